/**
 * The bastion of cloudformation/demo-stack.yaml, with the constructs: an
 * Auto Scaling group whose instance keeps one fixed private address per
 * Availability Zone while it is replaced. From cdk/ (cdk.json runs it):
 *
 *   npm run build
 *   npx aws-cdk synth -c vpcId=vpc-0123456789abcdef0 \
 *     -c 'subnets=[{"subnetId": "subnet-0aaaaaaaaaaaaaaaa", "availabilityZone": "eu-west-1a", "privateIpAddress": "10.0.1.10"}]'
 */
import { App, CfnOutput, Fn, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { NetworkInterfacePool, type NetworkInterfaceManager } from '../lib';

export interface BastionSubnet {
  readonly subnetId: string;
  readonly availabilityZone: string;
  /** The bastion's fixed address in this subnet. */
  readonly privateIpAddress: string;
}

export interface BastionStackProps extends StackProps {
  readonly vpcId: string;
  /** One subnet per Availability Zone the group may use. */
  readonly subnets: BastionSubnet[];
  /** @default 't3.micro' */
  readonly instanceType?: string;
  /**
   * The manager that serves the pool.
   *
   * @default the one deployed before, found by its SSM parameter
   */
  readonly manager?: NetworkInterfaceManager;
}

export class BastionStack extends Stack {
  public readonly pool: NetworkInterfacePool;
  public readonly group: autoscaling.AutoScalingGroup;

  constructor(scope: Construct, id: string, props: BastionStackProps) {
    super(scope, id, props);
    // Imported from the given ids, so that synthesis needs no AWS account.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: props.vpcId,
      availabilityZones: props.subnets.map((subnet) => subnet.availabilityZone),
    });
    const subnets = props.subnets.map((subnet, index) => {
      const imported = ec2.Subnet.fromSubnetAttributes(this, `Subnet${index}`, {
        subnetId: subnet.subnetId,
        availabilityZone: subnet.availabilityZone,
      });
      Validations.of(imported).acknowledge({
        id: '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        reason: "Nothing in this stack reads the subnets' route tables.",
      });
      return imported;
    });

    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', { vpc, description: 'bastion' });
    securityGroup.addIngressRule(ec2.Peer.ipv4('10.0.0.0/8'), ec2.Port.tcp(22), 'SSH from inside the VPC');

    this.pool = new NetworkInterfacePool(this, 'Pool', {
      manager: props.manager,
      name: `${this.stackName}-bastion`,
      subnetIds: props.subnets.map((subnet) => subnet.subnetId),
      privateIpAddresses: props.subnets.map((subnet) => subnet.privateIpAddress),
      securityGroupIds: [securityGroup.securityGroupId],
      description: `${this.stackName} bastion fixed address`,
      tags: [{ key: 'Stack', value: this.stackName }],
    });

    const launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.latestAmazonLinux2023(),
      instanceType: new ec2.InstanceType(props.instanceType ?? 't3.micro'),
      securityGroup,
      requireImdsv2: true,
      // The root volume encrypted, at the size of Amazon Linux 2023's image.
      blockDevices: [{ deviceName: '/dev/xvda', volume: ec2.BlockDeviceVolume.ebs(8, { encrypted: true }) }],
    });

    this.group = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc,
      vpcSubnets: { subnets },
      launchTemplate,
      minCapacity: 1,
      maxCapacity: 2,
    });
    // The pool tag on the group and its instances, and the manager's
    // lifecycle hooks declared in the group.
    this.pool.serve(this.group);
    Validations.of(this.group).acknowledge({
      id: 'AwsSolutions-AS3',
      reason:
        "Replacing the group's one instance is routine and needs no notification; an instance left " +
        "without its address is what matters, and the manager's ShortageAlarm reports it.",
    });

    new CfnOutput(this, 'PoolName', { value: this.pool.name });
    new CfnOutput(this, 'PrivateIpAddresses', {
      description: 'The fixed addresses of the bastion, one per interface',
      value: Fn.join(',', this.pool.privateIpAddresses),
    });
    new CfnOutput(this, 'NetworkInterfaceIds', { value: Fn.join(',', this.pool.networkInterfaceIds) });
  }
}

const CONTEXT_HELP =
  'Give the VPC and its subnets as context (-c or cdk.json): vpcId=vpc-..., ' +
  'subnets=[{"subnetId": "subnet-...", "availabilityZone": "...", "privateIpAddress": "..."}, ...]';

/** The VPC and subnets from the app's context: `vpcId`, and `subnets` as a list or as its JSON text. */
export function bastionPropsFromContext(scope: Construct): Pick<BastionStackProps, 'vpcId' | 'subnets'> {
  const vpcId: unknown = scope.node.tryGetContext('vpcId');
  let subnets: unknown = scope.node.tryGetContext('subnets');
  if (typeof subnets === 'string') {
    try {
      subnets = JSON.parse(subnets);
    } catch {
      throw new Error(`subnets is not JSON. ${CONTEXT_HELP}`);
    }
  }
  const isSubnet = (subnet: unknown): subnet is BastionSubnet =>
    typeof subnet === 'object' &&
    subnet !== null &&
    ['subnetId', 'availabilityZone', 'privateIpAddress'].every(
      (key) => typeof (subnet as Record<string, unknown>)[key] === 'string',
    );
  if (typeof vpcId !== 'string' || !Array.isArray(subnets) || subnets.length === 0 || !subnets.every(isSubnet)) {
    throw new Error(CONTEXT_HELP);
  }
  return { vpcId, subnets };
}

if (require.main === module) {
  const app = new App();
  new BastionStack(app, 'Bastion', bastionPropsFromContext(app));
}
