import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { CfnInclude } from 'aws-cdk-lib/cloudformation-include';
import { parseCloudFormationYaml } from '../lib/cloudformation-yaml';
import { decideConditions } from '../lib/decided-conditions';
import { strictApp } from './support';

// Kept is the one parameter given no value: its condition stays with
// CloudFormation, and so does what depends on it.
const TEMPLATE = `
Parameters:
  TopicArn: { Type: String, Default: "" }
  Mode: { Type: String, Default: "on" }
  Kept: { Type: String, Default: "x" }
Conditions:
  HasTopic: !Not [!Equals [!Ref TopicArn, ""]]
  IsOn: !Equals [!Ref Mode, "on"]
  IsKept: !Equals [!Ref Kept, "x"]
  OnAndKept: !And [!Condition IsOn, !Condition IsKept]
  OnOrKept: !Or [!Condition IsOn, !Condition IsKept]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      DelaySeconds: !If [IsOn, 5, !Ref AWS::NoValue]
      Tags:
        - !If [HasTopic, { Key: topic, Value: !Ref TopicArn }, !Ref AWS::NoValue]
        - { Key: name, Value: !Sub "\${Mode}-\${AWS::StackName}" }
  TopicQueue:
    Type: AWS::SQS::Queue
    Condition: HasTopic
  OnAndKeptQueue:
    Type: AWS::SQS::Queue
    Condition: OnAndKept
  OnOrKeptQueue:
    Type: AWS::SQS::Queue
    Condition: OnOrKept
Outputs:
  TopicArn:
    Condition: HasTopic
    Value: !Ref TopicArn
  Mode:
    Value: !If [IsOn, !Sub "on in \${Mode}", "off"]
`;

function include(values: (stack: Stack) => Record<string, unknown>, text = TEMPLATE) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'nim-conditions-')), 'template.yaml');
  writeFileSync(file, text);
  const stack = new Stack(strictApp(), 'Included');
  const parameters = values(stack);
  const included = new CfnInclude(stack, 'Template', { templateFile: file, parameters });
  decideConditions(included, parseCloudFormationYaml(text), parameters);
  return { stack, template: Template.fromStack(stack).toJSON() };
}

test('decided conditions are gone, and one left to CloudFormation keeps only its undecided part', () => {
  const { template } = include(() => ({ TopicArn: '', Mode: 'on' }));
  assert.deepEqual(template.Conditions, {
    IsKept: { 'Fn::Equals': [{ Ref: 'Kept' }, 'x'] },
    OnAndKept: { Condition: 'IsKept' },
  });
});

test('a resource on a false condition is removed, one on a true condition kept unconditionally', () => {
  const { template } = include(() => ({ TopicArn: '', Mode: 'on' }));
  assert.deepEqual(Object.keys(template.Resources).sort(), ['OnAndKeptQueue', 'OnOrKeptQueue', 'Queue']);
  assert.equal(template.Resources.OnOrKeptQueue.Condition, undefined);
  assert.equal(template.Resources.OnAndKeptQueue.Condition, 'OnAndKept');
});

test('an Fn::If on a decided condition becomes its branch, AWS::NoValue dropping the property or list item', () => {
  const { template } = include(() => ({ TopicArn: '', Mode: 'on' }));
  assert.deepEqual(template.Resources.Queue.Properties, {
    DelaySeconds: 5,
    Tags: [{ Key: 'name', Value: { 'Fn::Sub': ['${Mode}-${AWS::StackName}', { Mode: 'on' }] } }],
  });
  const off = include(() => ({ TopicArn: '', Mode: 'off' })).template;
  assert.equal('DelaySeconds' in off.Resources.Queue.Properties, false);
});

test('outputs follow their decided conditions and branches', () => {
  const { template } = include(() => ({ TopicArn: '', Mode: 'on' }));
  assert.deepEqual(template.Outputs, {
    Mode: { Value: { 'Fn::Sub': ['on in ${Mode}', { Mode: 'on' }] } },
  });
});

test("a resource's ARN counts as not empty, and what uses it gets the reference", () => {
  let topic: sns.Topic | undefined;
  const { stack, template } = include((scope) => ({
    TopicArn: (topic = new sns.Topic(scope, 'Topic')).topicArn,
    Mode: 'on',
  }));
  const reference = stack.resolve(topic!.topicArn);
  assert.equal(template.Resources.TopicQueue.Condition, undefined);
  assert.deepEqual(template.Resources.Queue.Properties.Tags[0], { Key: 'topic', Value: reference });
  assert.deepEqual(template.Outputs.TopicArn, { Value: reference });
});

test('a condition comparing a resource attribute with anything but the empty string is refused', () => {
  const text = TEMPLATE.replace(
    '!Equals [!Ref TopicArn, ""]',
    '!Equals [!Ref TopicArn, "arn:aws:sns:eu-west-1:123456789012:alarms"]',
  );
  assert.throws(
    () => include((stack) => ({ TopicArn: new sns.Topic(stack, 'Topic').topicArn, Mode: 'on' }), text),
    /Condition HasTopic: TopicArn is known only at deployment/,
  );
});
