import { isDeepStrictEqual } from 'node:util';
import { Lazy, Token, type CfnElement } from 'aws-cdk-lib';
import type { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import type { CloudFormationTemplate } from './cloudformation-yaml';

/**
 * A condition's outcome once some parameters have values: decided, or an
 * expression left to CloudFormation (rid of every part that was decided).
 */
type Outcome = { readonly decided: boolean } | { readonly expression: unknown };

const NO_VALUE = { Ref: 'AWS::NoValue' };

/**
 * Decides, at synthesis, the conditions on parameters that CfnInclude
 * replaced with values. Left to CloudFormation they would compare two
 * constants (which cfn-lint flags), or refer to a resource, such as a topic
 * made in the same app (which CloudFormation refuses). So each such
 * condition is removed, the resources and outputs it guards kept or
 * removed, and each `Fn::If` on it replaced with the branch it takes.
 * Conditions on the parameters left in place stay as they are.
 */
export function decideConditions(
  include: CfnInclude,
  template: CloudFormationTemplate,
  values: Record<string, unknown>,
): void {
  const evaluator = new ConditionEvaluator(template, values);
  const decided = new Map<string, boolean>();
  for (const [name, declared] of Object.entries(template.Conditions ?? {})) {
    const outcome = evaluator.condition(name);
    if ('decided' in outcome) {
      decided.set(name, outcome.decided);
      removeFromTree(include.getCondition(name));
    } else if (!isDeepStrictEqual(outcome.expression, declared)) {
      const expression = outcome.expression;
      include.getCondition(name).expression = Lazy.any({ produce: () => expression });
    }
  }
  if (decided.size === 0) {
    return;
  }
  const rewriter = new BranchRewriter(decided, values);
  for (const [logicalId, declared] of Object.entries(template.Resources)) {
    const resource = include.getResource(logicalId);
    if (declared.Condition !== undefined && decided.has(declared.Condition)) {
      if (!decided.get(declared.Condition)) {
        removeFromTree(resource);
        continue;
      }
      resource.cfnOptions.condition = undefined;
    }
    for (const [attribute, value] of Object.entries(declared)) {
      if (attribute !== 'Properties' && rewriter.takesDecidedBranch(value)) {
        throw new Error(`${logicalId}.${attribute}: an Fn::If on a decided condition is only supported in Properties`);
      }
    }
    for (const [property, value] of Object.entries(declared.Properties ?? {})) {
      if (rewriter.takesDecidedBranch(value)) {
        const rewritten = rewriter.rewrite(value);
        if (isDeepStrictEqual(rewritten, NO_VALUE)) {
          resource.addPropertyDeletionOverride(property);
        } else {
          resource.addPropertyOverride(property, rewritten);
        }
      }
    }
  }
  for (const [logicalId, declared] of Object.entries(template.Outputs ?? {})) {
    const output = include.getOutput(logicalId);
    if (declared.Condition !== undefined && decided.has(declared.Condition)) {
      if (!decided.get(declared.Condition)) {
        removeFromTree(output);
        continue;
      }
      output.condition = undefined;
    }
    if (rewriter.takesDecidedBranch(declared.Export)) {
      throw new Error(`Output ${logicalId}: an Fn::If on a decided condition is not supported in Export`);
    }
    if (rewriter.takesDecidedBranch(declared.Value)) {
      output.value = rewriter.rewrite(declared.Value);
    }
  }
}

function removeFromTree(element: CfnElement): void {
  element.node.scope?.node.tryRemoveChild(element.node.id);
}

class ConditionEvaluator {
  private readonly outcomes = new Map<string, Outcome>();

  constructor(
    private readonly template: CloudFormationTemplate,
    private readonly values: Record<string, unknown>,
  ) {}

  public condition(name: string): Outcome {
    let outcome = this.outcomes.get(name);
    if (outcome === undefined) {
      const declared = this.template.Conditions?.[name];
      if (declared === undefined) {
        throw new Error(`Condition ${name} is not in the template`);
      }
      outcome = this.evaluate(name, declared);
      this.outcomes.set(name, outcome);
    }
    return outcome;
  }

  private evaluate(name: string, expression: unknown): Outcome {
    const [fn, args] = singleEntry(expression) ?? [];
    switch (fn) {
      case 'Condition': {
        const outcome = this.condition(String(args));
        return 'decided' in outcome ? outcome : { expression };
      }
      case 'Fn::Not': {
        const outcome = this.evaluate(name, (args as unknown[])[0]);
        return 'decided' in outcome
          ? { decided: !outcome.decided }
          : { expression: { 'Fn::Not': [outcome.expression] } };
      }
      case 'Fn::And':
      case 'Fn::Or': {
        // And is decided by a false operand, Or by a true one; the operands
        // decided otherwise drop out.
        const decisive = fn === 'Fn::Or';
        const rest: unknown[] = [];
        for (const operand of args as unknown[]) {
          const outcome = this.evaluate(name, operand);
          if ('decided' in outcome) {
            if (outcome.decided === decisive) {
              return { decided: decisive };
            }
          } else {
            rest.push(outcome.expression);
          }
        }
        if (rest.length === 0) {
          return { decided: !decisive };
        }
        return rest.length === 1 ? { expression: rest[0] } : { expression: { [fn]: rest } };
      }
      case 'Fn::Equals':
        return this.equals(name, args as [unknown, unknown]);
      default:
        throw new Error(`Condition ${name}: cannot evaluate ${JSON.stringify(expression)}`);
    }
  }

  private equals(name: string, [left, right]: [unknown, unknown]): Outcome {
    const operands = [this.operand(name, left), this.operand(name, right)];
    const [a, b] = operands;
    if ('known' in a && 'known' in b) {
      return { decided: a.known === b.known };
    }
    const deployTime = operands.find((operand) => 'deployTime' in operand);
    if (deployTime !== undefined) {
      // A resource's ARN or name is never empty; anything else about it is
      // known only once it exists.
      const other = deployTime === a ? b : a;
      if ('known' in other && other.known === '') {
        return { decided: false };
      }
      throw new Error(
        `Condition ${name}: ${deployTime.deployTime} is known only at deployment, and a condition cannot wait for it`,
      );
    }
    return { expression: { 'Fn::Equals': [this.substituted(left), this.substituted(right)] } };
  }

  private operand(name: string, value: unknown): { known: string } | { deployTime: string } | { kept: unknown } {
    if (value === null || typeof value !== 'object') {
      return { known: String(value) };
    }
    const [fn, args] = singleEntry(value) ?? [];
    if (fn === 'Ref' && typeof args === 'string' && args in this.values) {
      const given = this.values[args];
      return Token.isUnresolved(given) ? { deployTime: args } : { known: String(given) };
    }
    if (mentionsParameter(value, Object.keys(this.values))) {
      throw new Error(`Condition ${name}: cannot evaluate ${JSON.stringify(value)}`);
    }
    return { kept: value };
  }

  private substituted(value: unknown): unknown {
    const [fn, args] = singleEntry(value) ?? [];
    return fn === 'Ref' && typeof args === 'string' && args in this.values ? this.values[args] : value;
  }
}

/** Replaces each `Fn::If` on a decided condition with its branch, as CloudFormation would. */
class BranchRewriter {
  constructor(
    private readonly decided: ReadonlyMap<string, boolean>,
    private readonly values: Record<string, unknown>,
  ) {}

  public takesDecidedBranch(value: unknown): boolean {
    if (Array.isArray(value)) {
      return value.some((item) => this.takesDecidedBranch(item));
    }
    if (value === null || typeof value !== 'object') {
      return false;
    }
    const [fn, args] = singleEntry(value) ?? [];
    if (fn === 'Fn::If' && this.decided.has(String((args as unknown[])[0]))) {
      return true;
    }
    return Object.values(value).some((item) => this.takesDecidedBranch(item));
  }

  /**
   * The value with its decided branches taken, `AWS::NoValue` dropped from
   * lists and maps, and the replaced parameters given their values (which
   * CfnInclude did in the rest of the template).
   */
  public rewrite(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((item) => this.rewrite(item)).filter((item) => !isDeepStrictEqual(item, NO_VALUE));
    }
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const [fn, args] = singleEntry(value) ?? [];
    if (fn === 'Fn::If') {
      const [condition, whenTrue, whenFalse] = args as [string, unknown, unknown];
      const outcome = this.decided.get(condition);
      if (outcome !== undefined) {
        return this.rewrite(outcome ? whenTrue : whenFalse);
      }
    }
    if (fn === 'Ref' && typeof args === 'string' && args in this.values) {
      return this.values[args];
    }
    if (fn === 'Fn::Sub') {
      return this.rewriteSub(args);
    }
    const rewritten: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const itemRewritten = this.rewrite(item);
      if (!isDeepStrictEqual(itemRewritten, NO_VALUE)) {
        rewritten[key] = itemRewritten;
      }
    }
    return rewritten;
  }

  // `${Parameter}` in a Sub string: the parameter is gone, so its value
  // comes in the Sub's own variables.
  private rewriteSub(args: unknown): unknown {
    const [text, variables] = typeof args === 'string' ? [args, {}] : (args as [string, Record<string, unknown>]);
    const own: Record<string, unknown> = {};
    for (const [variable, value] of Object.entries(variables)) {
      own[variable] = this.rewrite(value);
    }
    for (const [, variable] of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
      if (variable in this.values && !(variable in own)) {
        const given = this.values[variable];
        own[variable] = Token.isUnresolved(given) ? given : String(given);
      }
    }
    return Object.keys(own).length === 0 ? { 'Fn::Sub': text } : { 'Fn::Sub': [text, own] };
  }
}

function singleEntry(value: unknown): [string, unknown] | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return undefined;
  }
  const entries = Object.entries(value);
  return entries.length === 1 ? entries[0] : undefined;
}

function mentionsParameter(value: unknown, parameters: string[]): boolean {
  const text = JSON.stringify(value);
  return parameters.some((parameter) => text.includes(`"Ref":"${parameter}"`) || text.includes(`\${${parameter}}`));
}
