import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCloudFormationYaml } from '../lib/cloudformation-yaml';

test('short-form tags are read as their full form', () => {
  const template = parseCloudFormationYaml(`
Conditions:
  HasTopic: !Not [!Equals [!Ref Topic, ""]]
Resources:
  Thing:
    Type: AWS::Test::Thing
    Properties:
      Arn: !GetAtt Function.Arn
      Output: !GetAtt Stack.Outputs.Name
      Name: !Sub \${AWS::StackName}-thing
      Mapped: !Sub ["\${A}", { A: !Ref B }]
      Maybe: !If [HasTopic, !Ref Topic, !Ref AWS::NoValue]
      Joined: !Join [",", !Split [";", !ImportValue Shared]]
`);
  assert.deepEqual(template.Conditions, {
    HasTopic: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Topic' }, ''] }] },
  });
  assert.deepEqual(template.Resources.Thing.Properties, {
    Arn: { 'Fn::GetAtt': ['Function', 'Arn'] },
    Output: { 'Fn::GetAtt': ['Stack', 'Outputs.Name'] },
    Name: { 'Fn::Sub': '${AWS::StackName}-thing' },
    Mapped: { 'Fn::Sub': ['${A}', { A: { Ref: 'B' } }] },
    Maybe: { 'Fn::If': ['HasTopic', { Ref: 'Topic' }, { Ref: 'AWS::NoValue' }] },
    Joined: { 'Fn::Join': [',', { 'Fn::Split': [';', { 'Fn::ImportValue': 'Shared' }] }] },
  });
});
