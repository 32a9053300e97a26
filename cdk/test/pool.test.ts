import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  DEFAULT_SERVICE_TOKEN_PARAMETER_NAME,
  NetworkInterfaceManager,
  NetworkInterfacePool,
  POOL_TAG_KEY,
  type NetworkInterfacePoolProps,
} from '../lib';
import {
  placeholderCode,
  readManagerTemplateFile,
  strictApp,
  synthesizedTemplate,
  type SynthesizedTemplate,
} from './support';

function declare(
  props: NetworkInterfacePoolProps | ((stack: Stack) => NetworkInterfacePoolProps),
  then?: (stack: Stack, pool: NetworkInterfacePool) => void,
) {
  const stack = new Stack(strictApp(), 'Pools');
  const pool = new NetworkInterfacePool(stack, 'Bastion', typeof props === 'function' ? props(stack) : props);
  then?.(stack, pool);
  const template = synthesizedTemplate(stack);
  const [logicalId, resource] = Object.entries(template.Resources).find(
    ([, candidate]) => candidate.Type === 'Custom::NetworkInterfacePool',
  )!;
  return { stack, pool, template, logicalId, resource };
}

function group(stack: Stack): autoscaling.AutoScalingGroup {
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a'],
  });
  const subnet = ec2.Subnet.fromSubnetAttributes(stack, 'Subnet', {
    subnetId: 'subnet-0123456789abcdef0',
    availabilityZone: 'eu-west-1a',
  });
  const launchTemplate = new ec2.LaunchTemplate(stack, 'LaunchTemplate', {
    machineImage: ec2.MachineImage.latestAmazonLinux2023(),
    instanceType: new ec2.InstanceType('t3.micro'),
  });
  return new autoscaling.AutoScalingGroup(stack, 'Group', {
    vpc,
    vpcSubnets: { subnets: [subnet] },
    launchTemplate,
    minCapacity: 1,
    maxCapacity: 1,
  });
}

function groupProperties(template: SynthesizedTemplate) {
  return Object.values(template.Resources).find((resource) => resource.Type === 'AWS::AutoScaling::AutoScalingGroup')!
    .Properties;
}

const MANAGER_HOOKS = [
  {
    LifecycleHookName: 'network-interface-manager-launch',
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    DefaultResult: 'CONTINUE',
    HeartbeatTimeout: 120,
  },
  {
    LifecycleHookName: 'network-interface-manager-terminate',
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    DefaultResult: 'CONTINUE',
    HeartbeatTimeout: 120,
  },
];

test("a pool is a Custom::NetworkInterfacePool whose properties have the schema's names", () => {
  const { resource } = declare({
    name: 'bastion',
    subnetIds: ['subnet-0123456789abcdef0'],
    interfacesPerSubnet: 2,
    privateIpAddresses: ['10.0.1.10'],
    securityGroupIds: ['sg-0123456789abcdef0'],
    description: 'bastion fixed address',
    sourceDestCheck: false,
    deviceIndex: 2,
    tags: [{ key: 'Team', value: 'ops' }],
    networkInterfaceIds: ['eni-0123456789abcdef0'],
    publicIp: true,
    elasticIpAllocationIds: ['eipalloc-0123456789abcdef0'],
    publicIpv4Pool: 'ipv4pool-ec2-0123456789abcdef0',
    volumes: [
      { sizeGiB: 100, deviceName: '/dev/sdf' },
      // CDK's own volume types are the schema's names.
      {
        sizeGiB: 50,
        volumeType: ec2.EbsDeviceVolumeType.IO2,
        iops: 3000,
        encrypted: true,
        kmsKeyId: 'alias/data',
        deviceName: '/dev/xvdg',
      },
      { sizeGiB: 200, volumeType: 'gp3', throughput: 250, encrypted: false, deviceName: '/dev/sdh' },
    ],
    deleteVolumes: true,
  });
  const { ServiceToken, ServiceTimeout, ...declared } = resource.Properties;
  assert.ok(ServiceToken);
  assert.equal(ServiceTimeout, '1200');
  assert.deepEqual(declared, {
    Name: 'bastion',
    SubnetIds: ['subnet-0123456789abcdef0'],
    InterfacesPerSubnet: 2,
    PrivateIpAddresses: ['10.0.1.10'],
    SecurityGroupIds: ['sg-0123456789abcdef0'],
    Description: 'bastion fixed address',
    SourceDestCheck: false,
    DeviceIndex: 2,
    Tags: [{ Key: 'Team', Value: 'ops' }],
    NetworkInterfaceIds: ['eni-0123456789abcdef0'],
    PublicIp: true,
    ElasticIpAllocationIds: ['eipalloc-0123456789abcdef0'],
    PublicIpv4Pool: 'ipv4pool-ec2-0123456789abcdef0',
    Volumes: [
      { SizeGiB: 100, DeviceName: '/dev/sdf' },
      { SizeGiB: 50, VolumeType: 'io2', Iops: 3000, Encrypted: true, KmsKeyId: 'alias/data', DeviceName: '/dev/xvdg' },
      { SizeGiB: 200, VolumeType: 'gp3', Throughput: 250, Encrypted: false, DeviceName: '/dev/sdh' },
    ],
    DeleteVolumes: true,
  });
});

test('props left out are left out of the properties', () => {
  const { resource } = declare({ name: 'bastion', subnetIds: ['subnet-0123456789abcdef0'] });
  assert.deepEqual(Object.keys(resource.Properties).sort(), ['Name', 'ServiceTimeout', 'ServiceToken', 'SubnetIds']);
});

test('without a manager, the service token is read from the SSM parameter the manager publishes', () => {
  const { template, resource } = declare({ name: 'bastion', subnetIds: ['subnet-0123456789abcdef0'] });
  const { Ref: parameter } = resource.Properties.ServiceToken;
  assert.deepEqual(template.Parameters?.[parameter], {
    Type: 'AWS::SSM::Parameter::Value<String>',
    Default: '/network-interface-manager/service-token',
  });
});

test("the SSM parameter's default name is the template's", () => {
  assert.equal(
    DEFAULT_SERVICE_TOKEN_PARAMETER_NAME,
    readManagerTemplateFile().Parameters?.ServiceTokenParameterName.Default,
  );
});

test('with a serviceTokenParameterName, the service token is read from that parameter', () => {
  const { template, resource } = declare({
    name: 'bastion',
    subnetIds: ['subnet-0123456789abcdef0'],
    serviceTokenParameterName: '/pools/service-token',
  });
  const { Ref: parameter } = resource.Properties.ServiceToken;
  assert.equal(template.Parameters?.[parameter].Default, '/pools/service-token');
});

test("with a manager, the service token is the manager's function ARN", () => {
  const { resource } = declare((stack) => ({
    name: 'bastion',
    subnetIds: ['subnet-0123456789abcdef0'],
    manager: new NetworkInterfaceManager(stack, 'Manager', { code: placeholderCode() }),
  }));
  assert.deepEqual(resource.Properties.ServiceToken, { 'Fn::GetAtt': ['Function', 'Arn'] });
});

test('a manager and a serviceTokenParameterName together are refused', () => {
  assert.throws(
    () =>
      declare((stack) => ({
        name: 'bastion',
        subnetIds: ['subnet-0123456789abcdef0'],
        manager: new NetworkInterfaceManager(stack, 'Manager', { code: placeholderCode() }),
        serviceTokenParameterName: '/pools/service-token',
      })),
    /a manager or a serviceTokenParameterName, not both/,
  );
});

test('serviceTimeout and removalPolicy reach the resource', () => {
  const { resource } = declare({
    name: 'bastion',
    subnetIds: ['subnet-0123456789abcdef0'],
    serviceTimeout: Duration.minutes(30),
    removalPolicy: RemovalPolicy.RETAIN,
  });
  assert.equal(resource.Properties.ServiceTimeout, '1800');
  assert.equal(resource.DeletionPolicy, 'Retain');
});

test("the attributes are the resource's return values, the lists as lists", () => {
  const { stack, pool, logicalId } = declare({ name: 'bastion', subnetIds: ['subnet-0123456789abcdef0'] });
  assert.deepEqual(stack.resolve(pool.name), { 'Fn::GetAtt': [logicalId, 'Name'] });
  for (const [attribute, list] of Object.entries({
    PrivateIpAddresses: pool.privateIpAddresses,
    NetworkInterfaceIds: pool.networkInterfaceIds,
    Ordinals: pool.ordinals,
    PublicIpAddresses: pool.publicIpAddresses,
    AllocationIds: pool.allocationIds,
  })) {
    assert.deepEqual(stack.resolve(Fn.select(0, list)), {
      'Fn::Select': [0, { 'Fn::GetAtt': [logicalId, attribute] }],
    });
  }
});

test("serve tags the group for its instances and declares the manager's hooks in the group", () => {
  const { template, logicalId } = declare({ name: 'bastion', subnetIds: ['subnet-0123456789abcdef0'] }, (stack, pool) =>
    pool.serve(group(stack)),
  );
  const properties = groupProperties(template);
  assert.deepEqual(properties.Tags, [
    { Key: POOL_TAG_KEY, Value: { 'Fn::GetAtt': [logicalId, 'Name'] }, PropagateAtLaunch: true },
  ]);
  assert.deepEqual(properties.LifecycleHookSpecificationList, MANAGER_HOOKS);
  const separateHooks = Object.values(template.Resources).filter(
    (resource) => resource.Type === 'AWS::AutoScaling::LifecycleHook',
  );
  assert.deepEqual(separateHooks, []);
});

test('serve gives the launch hook of a pool with data volumes ten minutes, the heartbeats then reach the next sync', () => {
  const volumes = [{ sizeGiB: 10, deviceName: '/dev/sdf' }];
  const { template } = declare({ name: 'db', subnetIds: ['subnet-0123456789abcdef0'], volumes }, (stack, pool) =>
    pool.serve(group(stack)),
  );
  assert.deepEqual(groupProperties(template).LifecycleHookSpecificationList, [
    { ...MANAGER_HOOKS[0], HeartbeatTimeout: 600 },
    MANAGER_HOOKS[1],
  ]);
});

test('serve keeps the hooks the group already declares', () => {
  const ownHook = { lifecycleHookName: 'drain', lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' };
  const { template } = declare({ name: 'bastion', subnetIds: ['subnet-0123456789abcdef0'] }, (stack, pool) => {
    const asg = group(stack);
    (asg.node.defaultChild as autoscaling.CfnAutoScalingGroup).lifecycleHookSpecificationList = [ownHook];
    pool.serve(asg);
  });
  assert.deepEqual(groupProperties(template).LifecycleHookSpecificationList, [
    { LifecycleHookName: 'drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' },
    ...MANAGER_HOOKS,
  ]);
});

test('serve without lifecycle hooks only tags the group', () => {
  const { template } = declare({ name: 'bastion', subnetIds: ['subnet-0123456789abcdef0'] }, (stack, pool) =>
    pool.serve(group(stack), { lifecycleHooks: false }),
  );
  const properties = groupProperties(template);
  assert.equal(properties.LifecycleHookSpecificationList, undefined);
  assert.equal((properties.Tags as { Key: string }[])[0].Key, POOL_TAG_KEY);
});
