import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { BastionStack } from '../example/bastion';
import { NetworkInterfaceManager } from '../lib';
import {
  awsSolutionsFindings,
  BASTION_SUBNETS,
  BASTION_VPC_ID,
  cfnLintFindings,
  covers,
  findingsAndAcknowledgements,
  placeholderCode,
  strictApp,
} from './support';

/** The manager with its defaults, or with every option on (alarms, reserved concurrency, dashboard). */
function managerStack(withOptions = false): Stack {
  const stack = new Stack(strictApp(), withOptions ? 'ManagerWithOptions' : 'Manager');
  new NetworkInterfaceManager(stack, 'Manager', {
    code: placeholderCode(),
    alarmTopic: withOptions
      ? sns.Topic.fromTopicArn(stack, 'Alarms', 'arn:aws:sns:eu-west-1:123456789012:alarms')
      : undefined,
    reservedConcurrency: withOptions ? 10 : undefined,
    dashboard: withOptions,
  });
  return stack;
}

function bastionStack(): Stack {
  return new BastionStack(strictApp(), 'Bastion', { vpcId: BASTION_VPC_ID, subnets: BASTION_SUBNETS });
}

test('the manager and the bastion synthesize without warnings', () => {
  for (const stack of [managerStack(), managerStack(true), bastionStack()]) {
    assert.deepEqual(Annotations.fromStack(stack).findWarning('*', Match.anyValue()), [], stack.stackName);
  }
});

test("the manager passes cdk-nag's AwsSolutions checks", () => {
  assert.deepEqual(awsSolutionsFindings(managerStack(true)), []);
});

test("the bastion passes cdk-nag's AwsSolutions checks", () => {
  assert.deepEqual(awsSolutionsFindings(bastionStack()), []);
});

test('each cdk-nag acknowledgement answers a finding the checks make', () => {
  for (const build of [() => managerStack(true), bastionStack]) {
    const { findings, acknowledgements } = findingsAndAcknowledgements(build);
    assert.ok(findings.length > 0);
    const unanswered = acknowledgements.filter(
      (acknowledgement) => !findings.some((finding) => covers(acknowledgement, finding)),
    );
    assert.deepEqual(unanswered, []);
  }
});

test("the manager's templates pass cfn-lint, with and without alarms and dashboard", () => {
  assert.equal(cfnLintFindings(managerStack(), managerStack(true)), '');
});

test("the bastion's template passes cfn-lint", () => {
  assert.equal(cfnLintFindings(bastionStack()), '');
});
