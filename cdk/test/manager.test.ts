import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { managerTemplateFile, templateCodeFile, zipCode } from '../lib/manager-template';
import {
  MANAGER_PARAMETERS,
  NetworkInterfaceManager,
  parameterValues,
  type NetworkInterfaceManagerProps,
} from '../lib/network-interface-manager';
import type { CloudFormationTemplate } from '../lib/cloudformation-yaml';
import {
  canonical,
  placeholderCode,
  readManagerTemplateFile,
  REPOSITORY_ROOT,
  strictApp,
  synthesizedTemplate,
  type SynthesizedTemplate,
} from './support';

const file = readManagerTemplateFile();

function synthesize(
  props: Omit<NetworkInterfaceManagerProps, 'code'> = {},
  extra?: (stack: Stack) => Partial<NetworkInterfaceManagerProps>,
) {
  const stack = new Stack(strictApp(), 'Manager');
  const manager = new NetworkInterfaceManager(stack, 'Manager', {
    code: placeholderCode(),
    ...props,
    ...extra?.(stack),
  });
  return { stack, manager, template: synthesizedTemplate(stack) };
}

function resourcesOfType(template: SynthesizedTemplate | CloudFormationTemplate, type: string) {
  return Object.fromEntries(
    Object.entries(template.Resources ?? {})
      .filter(([, resource]) => resource.Type === type)
      .map(([logicalId, resource]) => [logicalId, canonical(resource.Properties)]),
  );
}

test("the template's parameters are these, each one a setting", () => {
  const expected = [
    'Architecture',
    'LogRetentionInDays',
    'ReservedConcurrency',
    'MetricsNamespace',
    'AlarmTopicArn',
    'StandbyHoldsMember',
    'Ec2Share',
    'ServiceTokenParameterName',
    'Dashboard',
    'VolumeKmsKeyArns',
  ].sort();
  assert.deepEqual(Object.keys(file.Parameters ?? {}).sort(), expected);
  assert.deepEqual(
    Object.values(MANAGER_PARAMETERS)
      .map((setting) => setting.parameter)
      .sort(),
    expected,
  );
});

test("a setting left out takes its parameter's default, and no template parameter is left in the stack", () => {
  const defaults = Object.fromEntries(
    Object.entries(file.Parameters ?? {}).map(([name, declaration]) => [name, declaration.Default]),
  );
  assert.deepEqual(parameterValues({}, file.Parameters ?? {}), defaults);
  const { template } = synthesize();
  assert.deepEqual(Object.keys(template.Parameters ?? {}), ['BootstrapVersion']);
});

test("the role is the template's, statement for statement", () => {
  const { template } = synthesize();
  assert.deepEqual(resourcesOfType(template, 'AWS::IAM::Role'), resourcesOfType(file, 'AWS::IAM::Role'));
  const statements = (
    template.Resources.Role.Properties.Policies as { PolicyDocument: { Statement: unknown[] } }[]
  ).flatMap((policy) => policy.PolicyDocument.Statement);
  assert.ok(statements.length > 0);
});

test("the EventBridge rules are the template's", () => {
  const { template } = synthesize();
  const rules = resourcesOfType(template, 'AWS::Events::Rule');
  assert.deepEqual(rules, resourcesOfType(file, 'AWS::Events::Rule'));
  assert.ok(Object.keys(rules).length > 0);
});

test("every resource the template declares unconditionally is in the stack, and the outputs are the template's", () => {
  const { template } = synthesize();
  for (const [logicalId, resource] of Object.entries(file.Resources)) {
    if (resource.Condition === undefined) {
      assert.equal(template.Resources[logicalId]?.Type, resource.Type, logicalId);
    }
  }
  assert.deepEqual(Object.keys(template.Outputs ?? {}).sort(), Object.keys(file.Outputs ?? {}).sort());
});

test('the settings reach their parameters', () => {
  const { template } = synthesize({
    architecture: lambda.Architecture.ARM_64,
    logRetentionInDays: 90,
    reservedConcurrency: 10,
    metricsNamespace: 'Pools',
    standbyHoldsMember: false,
    ec2Share: 0.25,
    serviceTokenParameterName: '/pools/service-token',
  });
  const { Architectures, ReservedConcurrentExecutions, Environment } = template.Resources.Function.Properties;
  assert.deepEqual(Architectures, ['arm64']);
  assert.equal(ReservedConcurrentExecutions, 10);
  assert.deepEqual(Environment.Variables, {
    RUST_LOG: 'info',
    METRICS_NAMESPACE: 'Pools',
    STANDBY_HOLDS_MEMBER: 'false',
    EC2_SHARE: '0.25',
  });
  assert.equal(template.Resources.LogGroup.Properties.RetentionInDays, 90);
  assert.equal(template.Resources.ServiceTokenParameter.Properties.Name, '/pools/service-token');
});

test('volume keys give the role their use through EC2, and only then', () => {
  const key = 'arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-0000-1111-2222-333344445555';
  const { template } = synthesize({ volumeKmsKeyArns: [key] });
  const statements = template.Resources.VolumeKeysPolicy.Properties.PolicyDocument.Statement as {
    Resource: unknown;
    Condition: Record<string, Record<string, unknown>>;
  }[];
  assert.equal(statements.length, 2);
  for (const statement of statements) {
    assert.deepEqual(statement.Resource, [key]);
    assert.ok('kms:ViaService' in statement.Condition.StringEquals);
  }
  assert.equal(synthesize().template.Resources.VolumeKeysPolicy, undefined);
});

test('by default there are no alarms, no reserved concurrency and no conditions', () => {
  const { template } = synthesize();
  assert.deepEqual(resourcesOfType(template, 'AWS::CloudWatch::Alarm'), {});
  assert.equal('ReservedConcurrentExecutions' in template.Resources.Function.Properties, false);
  assert.equal(template.Conditions, undefined);
});

test('with a topic made in the same stack, the five alarms notify it', () => {
  let topic: sns.Topic | undefined;
  const { stack, template } = synthesize({}, (scope) => ({ alarmTopic: (topic = new sns.Topic(scope, 'Alarms')) }));
  const topicArn = stack.resolve(topic!.topicArn);
  const alarms = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Alarm')) as Record<string, unknown>[];
  assert.equal(alarms.length, 5);
  for (const alarm of alarms) {
    assert.deepEqual(alarm.AlarmActions, [topicArn]);
    assert.deepEqual(alarm.OKActions, [topicArn]);
  }
  assert.equal(template.Conditions, undefined);
});

test('the dashboard is made with dashboard: true, on the given namespace, and not by default', () => {
  assert.deepEqual(resourcesOfType(synthesize().template, 'AWS::CloudWatch::Dashboard'), {});
  const { template } = synthesize({ dashboard: true, metricsNamespace: 'Pools' });
  const dashboards = resourcesOfType(template, 'AWS::CloudWatch::Dashboard') as Record<string, Record<string, any>>;
  assert.deepEqual(Object.keys(dashboards), ['MetricsDashboard']);
  assert.equal(template.Resources.MetricsDashboard.Condition, undefined);
  assert.equal(template.Conditions, undefined);
  // CfnInclude puts the namespace's value in the Fn::Sub; the region is
  // left to CloudFormation.
  const body: string = dashboards.MetricsDashboard.DashboardBody['Fn::Sub'];
  assert.ok(!body.includes('${MetricsNamespace}'));
  assert.match(body, /SEARCH\('\{\\"Pools\\",Pool,AvailabilityZone\} MetricName=\\"WaitingInstances\\"'/);
  assert.match(body, /"region": "\$\{AWS::Region\}"/);
  const widgets = JSON.parse(body.replaceAll('${AWS::Region}', 'eu-west-1')).widgets as unknown[];
  assert.ok(widgets.length > 0);
});

test("a value the template's parameter refuses is refused at synthesis", () => {
  assert.throws(() => synthesize({ ec2Share: -1 }), /Ec2Share "-1" is refused by the template: it must match/);
  assert.throws(
    () => synthesize({ logRetentionInDays: 120 }),
    /LogRetentionInDays "120" is refused by the template: it must be one of/,
  );
  assert.throws(
    () => synthesize({ reservedConcurrency: -2 }),
    /ReservedConcurrency "-2" is refused by the template: it must be at least -1/,
  );
});

test('the function runs the given code, from the CDK asset bucket', () => {
  const { template } = synthesize();
  const { S3Bucket, S3Key } = template.Resources.Function.Properties.Code;
  assert.deepEqual(S3Bucket, { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' });
  assert.match(S3Key, /^[0-9a-f]{64}\.zip$/);
});

test('code that is not a zip is refused', () => {
  const stack = new Stack(strictApp(), 'Manager');
  assert.throws(
    () => new NetworkInterfaceManager(stack, 'Manager', { code: lambda.Code.fromInline('exit 0') }),
    /The code must be a zip/,
  );
});

test("the default code is the zip the template's Code names, which make zip builds", () => {
  assert.equal(
    templateCodeFile(managerTemplateFile(), file, 'Function'),
    path.join(REPOSITORY_ROOT, 'dist', 'bootstrap.zip'),
  );
});

test('a missing zip says to run make zip', () => {
  assert.throws(
    () => zipCode(path.join(REPOSITORY_ROOT, 'no-such-folder', 'bootstrap.zip')),
    /build it with `make zip`/,
  );
});

test("the service token is the function's ARN, and the SSM parameter name its resource's", () => {
  const { stack, manager } = synthesize();
  assert.deepEqual(stack.resolve(manager.serviceToken), { 'Fn::GetAtt': ['Function', 'Arn'] });
  assert.deepEqual(stack.resolve(manager.function.functionArn), { 'Fn::GetAtt': ['Function', 'Arn'] });
  assert.deepEqual(stack.resolve(manager.serviceTokenParameterName), { Ref: 'ServiceTokenParameter' });
});
