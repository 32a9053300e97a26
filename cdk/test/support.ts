import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { readCloudFormationTemplate, type CloudFormationTemplate } from '../lib/cloudformation-yaml';

// The compiled tests run from cdk/dist/test/.
export const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..', '..');
export const CDK_ROOT = path.join(REPOSITORY_ROOT, 'cdk');

export function readManagerTemplateFile(): CloudFormationTemplate {
  return readCloudFormationTemplate(path.join(REPOSITORY_ROOT, 'cloudformation', 'network-interface-manager.yaml'));
}

export function readPoolSchema(): { properties: Record<string, SchemaProperty>; required: string[] } {
  return JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, 'schemas', 'network-interface-pool.schema.json'), 'utf8'));
}

export interface SchemaProperty {
  type: string | string[];
  enum?: string[];
  items?: { type: string; properties?: Record<string, SchemaProperty>; required?: string[] };
}

/**
 * An app whose template validation fails on warnings too, so that a test
 * passes only if `cdk synth` would print nothing about the templates.
 */
export function strictApp(): App {
  return new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
}

/** A VPC and subnets for the example bastion; made up, as synthesis looks none up. */
export const BASTION_VPC_ID = 'vpc-0123456789abcdef0';
export const BASTION_SUBNETS = [
  { subnetId: 'subnet-0aaaaaaaaaaaaaaaa', availabilityZone: 'eu-west-1a', privateIpAddress: '10.0.1.10' },
  { subnetId: 'subnet-0bbbbbbbbbbbbbbbb', availabilityZone: 'eu-west-1b', privateIpAddress: '10.0.2.10' },
];

/** A synthesized template, in the shape the tests read. */
export interface SynthesizedTemplate {
  Parameters?: Record<string, Record<string, unknown>>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Properties?: any; Condition?: string; DeletionPolicy?: string }>;
  Outputs?: Record<string, any>;
}

export function synthesizedTemplate(stack: Stack): SynthesizedTemplate {
  return Template.fromStack(stack).toJSON() as SynthesizedTemplate;
}

/** A stand-in for dist/bootstrap.zip, which only `make zip` builds. */
export function placeholderCode(): lambda.Code {
  const folder = mkdtempSync(path.join(tmpdir(), 'nim-code-'));
  writeFileSync(path.join(folder, 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
  return lambda.Code.fromAsset(folder);
}

/** What CloudFormation reads alike: `Fn::GetAtt: "A.B"` (CDK keeps that form) is `Fn::GetAtt: [A, B]`. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(canonical);
  }
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === 'Fn::GetAtt' && typeof item === 'string') {
      const dot = item.indexOf('.');
      result[key] = [item.slice(0, dot), item.slice(dot + 1)];
    } else {
      result[key] = canonical(item);
    }
  }
  return result;
}

export interface NagFinding {
  readonly id: string;
  readonly path: string;
}

/** cdk-nag's AwsSolutions findings that no acknowledgement answers. */
export function awsSolutionsFindings(scope: IConstruct): NagFinding[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map((resource) => ({ id: violation.ruleName, path: resource.constructPath ?? '' })),
  );
}

/**
 * Builds constructs with every acknowledgement of a cdk-nag AwsSolutions
 * finding recorded instead of made, then returns the findings cdk-nag makes
 * on them, and the acknowledgements (each of which covers its construct and
 * what is under it).
 */
export function findingsAndAcknowledgements(build: () => IConstruct): {
  findings: NagFinding[];
  acknowledgements: NagFinding[];
} {
  const acknowledgements: NagFinding[] = [];
  const acknowledge = Validations.prototype.acknowledge;
  Validations.prototype.acknowledge = function (this: Validations, ...rules) {
    const scope = (this as unknown as { scope: IConstruct }).scope;
    const [nag, others] = [
      rules.filter((rule) => rule.id.startsWith('AwsSolutions-')),
      rules.filter((rule) => !rule.id.startsWith('AwsSolutions-')),
    ];
    acknowledgements.push(...nag.map((rule) => ({ id: rule.id, path: scope.node.path })));
    acknowledge.apply(this, others);
  };
  try {
    return { findings: awsSolutionsFindings(build()), acknowledgements };
  } finally {
    Validations.prototype.acknowledge = acknowledge;
  }
}

export function covers(acknowledgement: NagFinding, finding: NagFinding): boolean {
  return (
    acknowledgement.id === finding.id &&
    (finding.path === acknowledgement.path || finding.path.startsWith(`${acknowledgement.path}/`))
  );
}

const CFN_LINT = path.join(REPOSITORY_ROOT, '.venv', 'bin', 'cfn-lint');

/**
 * cfn-lint's findings (errors, warnings and informational ones) on the
 * stacks' synthesized templates; empty when it has none.
 */
export function cfnLintFindings(...stacks: Stack[]): string {
  if (!existsSync(CFN_LINT)) {
    throw new Error(`cfn-lint is not at ${CFN_LINT}: run \`make venv\` in ${REPOSITORY_ROOT}`);
  }
  const folder = mkdtempSync(path.join(tmpdir(), 'nim-cfn-lint-'));
  const files = stacks.map((stack) => {
    const file = path.join(folder, `${stack.stackName}.template.json`);
    writeFileSync(file, JSON.stringify(synthesizedTemplate(stack), null, 1));
    return file;
  });
  const run = spawnSync(CFN_LINT, ['--non-zero-exit-code', 'informational', '--', ...files], { encoding: 'utf8' });
  if (run.error !== undefined) {
    throw run.error;
  }
  return run.status === 0 ? '' : `${run.stdout}${run.stderr}`.trim() || `cfn-lint exited with ${run.status}`;
}
