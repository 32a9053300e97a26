import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { BastionStack } from '../example/bastion';
import { POOL_TAG_KEY } from '../lib';
import {
  BASTION_SUBNETS as SUBNETS,
  BASTION_VPC_ID as VPC_ID,
  strictApp,
  synthesizedTemplate,
  type SynthesizedTemplate,
} from './support';

const BASTION_APP = path.join(__dirname, '..', 'example', 'bastion.js');

function only(template: SynthesizedTemplate, type: string) {
  const found = Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
  assert.equal(found.length, 1, type);
  return { logicalId: found[0][0], properties: found[0][1].Properties };
}

test('the bastion declares a pool with one fixed address per Availability Zone', () => {
  const template = synthesizedTemplate(new BastionStack(strictApp(), 'Bastion', { vpcId: VPC_ID, subnets: SUBNETS }));
  const pool = only(template, 'Custom::NetworkInterfacePool').properties;
  assert.equal(pool.Name, 'Bastion-bastion');
  assert.deepEqual(pool.SubnetIds, ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb']);
  assert.deepEqual(pool.PrivateIpAddresses, ['10.0.1.10', '10.0.2.10']);
  assert.deepEqual(pool.SecurityGroupIds, [
    { 'Fn::GetAtt': [only(template, 'AWS::EC2::SecurityGroup').logicalId, 'GroupId'] },
  ]);
});

test('its group launches from the launch template, in the subnets, with the pool tag and the launch hook', () => {
  const template = synthesizedTemplate(new BastionStack(strictApp(), 'Bastion', { vpcId: VPC_ID, subnets: SUBNETS }));
  const launchTemplate = only(template, 'AWS::EC2::LaunchTemplate');
  const group = only(template, 'AWS::AutoScaling::AutoScalingGroup').properties;
  assert.deepEqual(group.LaunchTemplate.LaunchTemplateId, { Ref: launchTemplate.logicalId });
  assert.deepEqual(group.VPCZoneIdentifier, ['subnet-0aaaaaaaaaaaaaaaa', 'subnet-0bbbbbbbbbbbbbbbb']);
  assert.deepEqual(group.Tags, [
    {
      Key: POOL_TAG_KEY,
      Value: { 'Fn::GetAtt': [only(template, 'Custom::NetworkInterfacePool').logicalId, 'Name'] },
      PropagateAtLaunch: true,
    },
  ]);
  const launchHook = group.LifecycleHookSpecificationList.find(
    (hook: { LifecycleHookName: string }) => hook.LifecycleHookName === 'network-interface-manager-launch',
  );
  assert.deepEqual(launchHook, {
    LifecycleHookName: 'network-interface-manager-launch',
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    DefaultResult: 'CONTINUE',
    HeartbeatTimeout: 120,
  });
  assert.equal(launchTemplate.properties.LaunchTemplateData.MetadataOptions.HttpTokens, 'required');
});

test('the bastion app takes the VPC and subnets from its context', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nim-bastion-'));
  const run = spawnSync(process.execPath, [BASTION_APP], {
    encoding: 'utf8',
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ vpcId: VPC_ID, subnets: JSON.stringify(SUBNETS) }),
    },
  });
  assert.equal(run.status, 0, run.stderr);
  const template = JSON.parse(readFileSync(path.join(outdir, 'Bastion.template.json'), 'utf8')) as SynthesizedTemplate;
  assert.deepEqual(only(template, 'Custom::NetworkInterfacePool').properties.PrivateIpAddresses, [
    '10.0.1.10',
    '10.0.2.10',
  ]);
});

test('without that context the bastion app says what to give', () => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nim-bastion-'));
  const run = spawnSync(process.execPath, [BASTION_APP], {
    encoding: 'utf8',
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ vpcId: VPC_ID }) },
  });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /Give the VPC and its subnets as context/);
  assert.equal(existsSync(path.join(outdir, 'Bastion.template.json')), false);
});
