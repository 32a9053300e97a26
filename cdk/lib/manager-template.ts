import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { CloudFormationTemplate, ParameterDeclaration } from './cloudformation-yaml';

// This file runs from dist/lib/.
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

const TEMPLATE_NAME = path.join('cloudformation', 'network-interface-manager.yaml');

/**
 * The deployment template: in the repository, the one beside this package;
 * in a packed copy (`npm pack`), the copy under bundle/, which keeps the
 * repository's layout so that the template's `Code` path still finds the
 * zip. The repository's comes first, so a bundle left behind never hides
 * an edit of the template.
 */
export function managerTemplateFile(): string {
  const candidates = [path.join(PACKAGE_ROOT, '..', TEMPLATE_NAME), path.join(PACKAGE_ROOT, 'bundle', TEMPLATE_NAME)];
  const found = candidates.find((file) => existsSync(file));
  if (found === undefined) {
    throw new Error(`The manager's template is not at ${candidates.join(' nor at ')}`);
  }
  return found;
}

/**
 * The zip the template deploys, where `aws cloudformation package` would
 * look for it: the function's `Code`, a path relative to the template.
 */
export function templateCodeFile(
  templateFile: string,
  template: CloudFormationTemplate,
  functionLogicalId: string,
): string {
  const code = template.Resources[functionLogicalId]?.Properties?.Code;
  if (typeof code !== 'string') {
    throw new Error(`${functionLogicalId}.Code in ${templateFile} is not a local path: pass the code prop`);
  }
  return path.resolve(path.dirname(templateFile), code);
}

/** The zip at the given path, as an asset; a missing zip says how to build it. */
export function zipCode(zip: string): lambda.Code {
  if (!existsSync(zip)) {
    throw new Error(`No function code at ${zip}: build it with \`make zip\` in the repository, or pass the code prop`);
  }
  return lambda.Code.fromAsset(zip);
}

/**
 * Refuses a value the parameter's own constraints would refuse: a value
 * given to CfnInclude replaces the parameter, so CloudFormation no longer
 * checks it. A token is known only at deployment and is not checked.
 */
export function checkParameterValue(name: string, declaration: ParameterDeclaration, value: unknown): void {
  if (Token.isUnresolved(value)) {
    return;
  }
  const text = String(value);
  const refuse = (why: string): never => {
    throw new Error(`${name} ${JSON.stringify(text)} is refused by the template: ${why}`);
  };
  if (
    declaration.AllowedValues !== undefined &&
    !declaration.AllowedValues.some((allowed) => String(allowed) === text)
  ) {
    refuse(`it must be one of ${declaration.AllowedValues.join(', ')}`);
  }
  if (declaration.AllowedPattern !== undefined && !new RegExp(`^(?:${declaration.AllowedPattern})$`).test(text)) {
    refuse(`it must match ${declaration.AllowedPattern}`);
  }
  if (declaration.Type === 'Number' && !Number.isFinite(Number(text))) {
    refuse('it must be a number');
  }
  if (declaration.MinValue !== undefined && Number(text) < Number(declaration.MinValue)) {
    refuse(`it must be at least ${declaration.MinValue}`);
  }
  if (declaration.MaxValue !== undefined && Number(text) > Number(declaration.MaxValue)) {
    refuse(`it must be at most ${declaration.MaxValue}`);
  }
  if (declaration.MinLength !== undefined && text.length < Number(declaration.MinLength)) {
    refuse(`it must be at least ${declaration.MinLength} characters long`);
  }
  if (declaration.MaxLength !== undefined && text.length > Number(declaration.MaxLength)) {
    refuse(`it must be at most ${declaration.MaxLength} characters long`);
  }
}
