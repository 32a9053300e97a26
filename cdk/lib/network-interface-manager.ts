import { Validations } from 'aws-cdk-lib';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { readCloudFormationTemplate, type ParameterDeclaration } from './cloudformation-yaml';
import { decideConditions } from './decided-conditions';
import { checkParameterValue, managerTemplateFile, templateCodeFile, zipCode } from './manager-template';

/**
 * The settings of cloudformation/network-interface-manager.yaml, each one of
 * its parameters (see the repository's README, "Deploy"). A setting left
 * out takes the parameter's default.
 */
export interface NetworkInterfaceManagerProps {
  /**
   * The function's code: a zip holding the `bootstrap` binary.
   *
   * @default the repository's dist/bootstrap.zip (`make zip`), the path the
   * template's own `Code` names
   */
  readonly code?: lambda.Code;
  /** The architecture the code was built for (parameter `Architecture`). */
  readonly architecture?: lambda.Architecture;
  /** How long the function's logs are kept (parameter `LogRetentionInDays`). */
  readonly logRetentionInDays?: number;
  /** Invocations reserved for the function; -1 reserves none (parameter `ReservedConcurrency`). */
  readonly reservedConcurrency?: number;
  /** CloudWatch namespace of the function's metrics (parameter `MetricsNamespace`). */
  readonly metricsNamespace?: string;
  /** The topic the alarms notify; without one there are no alarms (parameter `AlarmTopicArn`). */
  readonly alarmTopic?: sns.ITopic;
  /** Whether Auto Scaling instances in Standby keep a member (parameter `StandbyHoldsMember`). */
  readonly standbyHoldsMember?: boolean;
  /** The share of each EC2 request bucket the manager may draw (parameter `Ec2Share`). */
  readonly ec2Share?: number;
  /** The SSM parameter that publishes the ServiceToken (parameter `ServiceTokenParameterName`). */
  readonly serviceTokenParameterName?: string;
  /** Whether to create the CloudWatch dashboard of the manager's metrics (parameter `Dashboard`). */
  readonly dashboard?: boolean;
  /**
   * ARNs of the customer-managed KMS keys pools' data volumes use; the role
   * may use them only through EC2 (parameter `VolumeKmsKeyArns`).
   */
  readonly volumeKmsKeyArns?: string[];
}

type ManagerSettings = Required<Omit<NetworkInterfaceManagerProps, 'code'>>;

/** Each setting's template parameter, and the value it is given. */
export const MANAGER_PARAMETERS: {
  readonly [Setting in keyof ManagerSettings]: {
    readonly parameter: string;
    readonly value: (setting: ManagerSettings[Setting]) => string | number;
  };
} = {
  architecture: { parameter: 'Architecture', value: (architecture) => architecture.name },
  logRetentionInDays: { parameter: 'LogRetentionInDays', value: (days) => days },
  reservedConcurrency: { parameter: 'ReservedConcurrency', value: (executions) => executions },
  metricsNamespace: { parameter: 'MetricsNamespace', value: (namespace) => namespace },
  alarmTopic: { parameter: 'AlarmTopicArn', value: (topic) => topic.topicArn },
  standbyHoldsMember: { parameter: 'StandbyHoldsMember', value: (holds) => String(holds) },
  ec2Share: { parameter: 'Ec2Share', value: (share) => String(share) },
  serviceTokenParameterName: { parameter: 'ServiceTokenParameterName', value: (name) => name },
  dashboard: { parameter: 'Dashboard', value: (dashboard) => String(dashboard) },
  volumeKmsKeyArns: { parameter: 'VolumeKmsKeyArns', value: (arns) => arns.join(',') },
};

// Logical ids in the template that this construct works with.
const FUNCTION_ID = 'Function';
const SERVICE_TOKEN_PARAMETER_ID = 'ServiceTokenParameter';

const ARN_PREFIX = 'arn:<AWS::Partition>:';
const IN_ACCOUNT = ':<AWS::Region>:<AWS::AccountId>:';

/**
 * cdk-nag (AwsSolutions) findings on the template that do not apply, by
 * logical id, each with the reason. The role's wildcards are resources
 * whose ids the manager cannot know in advance; each statement narrows
 * them by tag or serves only to read.
 */
const ACKNOWLEDGED_FINDINGS: Record<string, { id: string; reason: string }[]> = {
  Role: [
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only Describe calls (EC2, Auto Scaling), which take no resource-level permissions and read only.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}network-interface/*]`,
      reason:
        'Interfaces the pools create: created only with the pool tag, changed only while they carry the pool or owner tag.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}instance/*]`,
      reason:
        'A member is attached to any pool instance and taken back from any instance, one that lost its pool tag too; ' +
        'the interface in each call must carry a pool tag.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}subnet/*]`,
      reason: 'Subnets the pool declarations name; the interface created in them must carry the pool tag.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}security-group/*]`,
      reason: 'Security groups the pool declarations name, for interfaces that must carry the pool tag.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}elastic-ip/*]`,
      reason:
        'Elastic IPs the pools allocate or adopt: allocated only with the pool tag, ' +
        'changed and released only while they carry an owner tag.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}volume/*]`,
      reason:
        "Members' data volumes: created only with the pool tag, attached, detached, changed and deleted only " +
        'while they carry an owner tag, and attached to and detached from pool instances only.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}ec2${IN_ACCOUNT}ipv4pool-ec2/*]`,
      reason:
        "The account's own address pools (BYOIP) that a pool declaration names; the address allocated must carry the pool tag.",
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}autoscaling${IN_ACCOUNT}autoScalingGroup:*:autoScalingGroupName/*]`,
      reason: 'Only groups that carry the pool tag (autoscaling:ResourceTag condition), whatever their names.',
    },
    {
      id: `AwsSolutions-IAM5[Resource::${ARN_PREFIX}cloudformation${IN_ACCOUNT}stack/*/*]`,
      reason:
        "Reads only (DescribeStacks, ListStackResources) the stacks that declared pools, named by the pools' tags.",
    },
  ],
  DeadLetterQueue: [
    {
      id: 'AwsSolutions-SQS3',
      reason:
        "It is the function's dead-letter queue (DeadLetterConfig), which the rule does not count; " +
        'a dead-letter queue needs none of its own.',
    },
    {
      id: 'AwsSolutions-SQS4',
      reason: "No queue policy: only this account's IAM principals reach the queue, and Lambda sends to it over TLS.",
    },
  ],
};

/**
 * The manager's stack, cloudformation/network-interface-manager.yaml itself,
 * included with CfnInclude so that this construct deploys whatever the
 * template declares. Only the function's code changes: an asset in place of
 * the local path that `aws cloudformation package` would upload.
 *
 * The template's logical ids are kept, so one stack holds at most one
 * manager (the ServiceToken's SSM parameter name is one per account and
 * region anyway).
 */
export class NetworkInterfaceManager extends Construct {
  /** The included template, for its resources (`template.getResource('Role')`). */
  public readonly template: CfnInclude;
  /** The ServiceToken of `Custom::NetworkInterfacePool` resources: the function's ARN. */
  public readonly serviceToken: string;
  /** The manager's function, for its metrics and grants. */
  public readonly function: lambda.IFunction;
  /** The name of the SSM parameter that holds the ServiceToken. */
  public readonly serviceTokenParameterName: string;

  constructor(scope: Construct, id: string, props: NetworkInterfaceManagerProps = {}) {
    super(scope, id);
    const templateFile = managerTemplateFile();
    const declared = readCloudFormationTemplate(templateFile);
    const parameters = parameterValues(props, declared.Parameters ?? {});
    this.template = new CfnInclude(this, 'Template', { templateFile, parameters });
    decideConditions(this.template, declared, parameters);

    const cfnFunction = this.template.getResource(FUNCTION_ID) as lambda.CfnFunction;
    const code = props.code ?? zipCode(templateCodeFile(templateFile, declared, FUNCTION_ID));
    const bound = code.bind(this);
    if (bound.s3Location === undefined) {
      throw new Error('The code must be a zip (Code.fromAsset, Code.fromBucket): the function runs provided.al2023');
    }
    cfnFunction.code = {
      s3Bucket: bound.s3Location.bucketName,
      s3Key: bound.s3Location.objectKey,
      s3ObjectVersion: bound.s3Location.objectVersion,
    };
    code.bindToResource(cfnFunction);

    this.serviceToken = cfnFunction.attrArn;
    this.function = lambda.Function.fromFunctionAttributes(this, 'Function', {
      functionArn: cfnFunction.attrArn,
      sameEnvironment: true,
    });
    this.serviceTokenParameterName = this.template.getResource(SERVICE_TOKEN_PARAMETER_ID).ref;

    for (const [logicalId, findings] of Object.entries(ACKNOWLEDGED_FINDINGS)) {
      Validations.of(this.template.getResource(logicalId)).acknowledge(...findings);
    }
  }
}

/**
 * A value for every parameter of the template: the setting's, else the
 * parameter's default. Every condition is then decided at synthesis, and
 * the stack has no parameters of its own (which `cdk deploy` would keep
 * at their previous values when their default changes).
 */
export function parameterValues(
  props: NetworkInterfaceManagerProps,
  declarations: Record<string, ParameterDeclaration>,
): Record<string, unknown> {
  const settingOf = new Map(
    Object.entries(MANAGER_PARAMETERS).map(([setting, { parameter }]) => [parameter, setting as keyof ManagerSettings]),
  );
  const values: Record<string, unknown> = {};
  for (const [parameter, declaration] of Object.entries(declarations)) {
    const setting = settingOf.get(parameter);
    const given = setting === undefined ? undefined : props[setting];
    if (given !== undefined) {
      const { value } = MANAGER_PARAMETERS[setting!] as { value: (setting: unknown) => string | number };
      values[parameter] = value(given);
      checkParameterValue(parameter, declaration, values[parameter]);
    } else if (declaration.Default !== undefined) {
      values[parameter] = declaration.Default;
    } else {
      const how = setting === undefined ? 'no prop sets it yet' : `set ${setting}`;
      throw new Error(`The template's parameter ${parameter} has no default: ${how}`);
    }
  }
  for (const [setting, { parameter }] of Object.entries(MANAGER_PARAMETERS)) {
    if (!(parameter in declarations)) {
      throw new Error(`${setting}: the template has no parameter ${parameter}`);
    }
  }
  return values;
}
