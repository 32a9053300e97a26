import { CustomResource, Duration, Tags, Token, type RemovalPolicy } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { NetworkInterfaceManager } from './network-interface-manager';

/** The tag that makes an interface a member, and an instance a client, of the pool it names. */
export const POOL_TAG_KEY = 'network-interface-manager-pool';

/** Where the manager publishes its ServiceToken (the template's `ServiceTokenParameterName` default). */
export const DEFAULT_SERVICE_TOKEN_PARAMETER_NAME = '/network-interface-manager/service-token';

/** A tag of the pool's interfaces. */
export interface PoolTag {
  readonly key: string;
  readonly value: string;
}

/** The EBS volume types a pool's volume may have (`ec2.EbsDeviceVolumeType`'s values are among them). */
export const POOL_VOLUME_TYPES = ['gp3', 'gp2', 'io1', 'io2', 'st1', 'sc1', 'standard'] as const;
export type PoolVolumeType = (typeof POOL_VOLUME_TYPES)[number];

/**
 * A data volume each member gets, which follows it from instance to
 * instance: made in the member's Availability Zone, attached to the
 * instance that holds the member, never detached from a running instance.
 */
export interface PoolVolume {
  /** Its size in GiB, 1 to 16384. */
  readonly sizeGiB: number;
  /**
   * The EBS volume type.
   *
   * @default 'gp3'
   */
  readonly volumeType?: PoolVolumeType;
  /** Provisioned IOPS: gp3, io1 and io2 only, and required by io1 and io2. */
  readonly iops?: number;
  /** Throughput in MiB/s: gp3 only. */
  readonly throughput?: number;
  /**
   * Whether the volume is encrypted; when false, the account's default encryption still applies.
   *
   * @default false
   */
  readonly encrypted?: boolean;
  /** The KMS key of an encrypted volume (needs encrypted). */
  readonly kmsKeyId?: string;
  /** Where it is attached, one volume per name: /dev/sdf to /dev/sdp or /dev/xvdf to /dev/xvdp. */
  readonly deviceName: string;
}

/**
 * A pool's declaration: the properties of schemas/network-interface-pool.schema.json
 * (less CloudFormation's own), in camelCase. See the repository's README,
 * "Declaring a pool", for what each does.
 */
export interface NetworkInterfacePoolDeclaration {
  /** The pool's name: the value of the pool tag on its interfaces and on its instances. */
  readonly name: string;
  /** Subnets to create interfaces in. */
  readonly subnetIds?: string[];
  /** Interfaces created in each subnet, addresses chosen by EC2; not with privateIpAddresses. */
  readonly interfacesPerSubnet?: number;
  /** Fixed addresses, one interface each, in the subnet whose range holds it. */
  readonly privateIpAddresses?: string[];
  /** Security groups of the created interfaces (the VPC's default when none). */
  readonly securityGroupIds?: string[];
  /** Description of the created interfaces. */
  readonly description?: string;
  /** Whether EC2 drops traffic not addressed to the interface; false for NAT and routing appliances. */
  readonly sourceDestCheck?: boolean;
  /** The device index the interfaces take on an instance, when free there. */
  readonly deviceIndex?: number;
  /** More tags on the created interfaces. */
  readonly tags?: PoolTag[];
  /** Existing interfaces to adopt into the pool. */
  readonly networkInterfaceIds?: string[];
  /** Whether each member gets an Elastic IP allocated for it, where elasticIpAllocationIds gives none. */
  readonly publicIp?: boolean;
  /** Existing Elastic IPs for the members, one each in the order of privateIpAddresses. */
  readonly elasticIpAllocationIds?: string[];
  /** The BYOIP address pool publicIp allocates from (Amazon's when absent). */
  readonly publicIpv4Pool?: string;
  /** Data volumes each member gets, at most 4; kept when the pool is deleted, unless deleteVolumes. */
  readonly volumes?: PoolVolume[];
  /** Whether deleting the pool deletes its volumes (those no running instance has attached). */
  readonly deleteVolumes?: boolean;
}

/** A JSON schema type, as a TypeScript type maps to it. */
type SchemaType<T> = [T] extends [string]
  ? { readonly type: 'string' }
  : [T] extends [number]
    ? { readonly type: 'integer' }
    : [T] extends [boolean]
      ? { readonly type: 'boolean' }
      : [T] extends [readonly (infer Item)[]]
        ? { readonly type: 'array'; readonly items: SchemaType<Item>['type'] }
        : { readonly type: 'object' };

/**
 * Each field's schema property, type and whether it is required. The
 * compiler makes every field appear with the type and requiredness its
 * TypeScript declaration has; the tests compare these maps with the schema.
 */
type SchemaProperties<T> = {
  readonly [Field in keyof T]-?: SchemaType<NonNullable<T[Field]>> & {
    readonly property: string;
    readonly required: undefined extends T[Field] ? false : true;
  };
};

/** Each declaration prop's schema property. */
export const POOL_PROPERTIES: SchemaProperties<NetworkInterfacePoolDeclaration> = {
  name: { property: 'Name', type: 'string', required: true },
  subnetIds: { property: 'SubnetIds', type: 'array', items: 'string', required: false },
  interfacesPerSubnet: { property: 'InterfacesPerSubnet', type: 'integer', required: false },
  privateIpAddresses: { property: 'PrivateIpAddresses', type: 'array', items: 'string', required: false },
  securityGroupIds: { property: 'SecurityGroupIds', type: 'array', items: 'string', required: false },
  description: { property: 'Description', type: 'string', required: false },
  sourceDestCheck: { property: 'SourceDestCheck', type: 'boolean', required: false },
  deviceIndex: { property: 'DeviceIndex', type: 'integer', required: false },
  tags: { property: 'Tags', type: 'array', items: 'object', required: false },
  networkInterfaceIds: { property: 'NetworkInterfaceIds', type: 'array', items: 'string', required: false },
  publicIp: { property: 'PublicIp', type: 'boolean', required: false },
  elasticIpAllocationIds: { property: 'ElasticIpAllocationIds', type: 'array', items: 'string', required: false },
  publicIpv4Pool: { property: 'PublicIpv4Pool', type: 'string', required: false },
  volumes: { property: 'Volumes', type: 'array', items: 'object', required: false },
  deleteVolumes: { property: 'DeleteVolumes', type: 'boolean', required: false },
};

/** Each field of a tag and its schema property. */
export const POOL_TAG_PROPERTIES: SchemaProperties<PoolTag> = {
  key: { property: 'Key', type: 'string', required: true },
  value: { property: 'Value', type: 'string', required: true },
};

/** Each field of a volume and its schema property. */
export const POOL_VOLUME_PROPERTIES: SchemaProperties<PoolVolume> = {
  sizeGiB: { property: 'SizeGiB', type: 'integer', required: true },
  volumeType: { property: 'VolumeType', type: 'string', required: false },
  iops: { property: 'Iops', type: 'integer', required: false },
  throughput: { property: 'Throughput', type: 'integer', required: false },
  encrypted: { property: 'Encrypted', type: 'boolean', required: false },
  kmsKeyId: { property: 'KmsKeyId', type: 'string', required: false },
  deviceName: { property: 'DeviceName', type: 'string', required: true },
};

export interface NetworkInterfacePoolProps extends NetworkInterfacePoolDeclaration {
  /**
   * The manager that serves the pool.
   *
   * @default the manager whose ServiceToken is in the SSM parameter
   * serviceTokenParameterName, deployed before this stack
   */
  readonly manager?: NetworkInterfaceManager;
  /**
   * The SSM parameter to read the ServiceToken from, when no manager is given.
   *
   * @default '/network-interface-manager/service-token'
   */
  readonly serviceTokenParameterName?: string;
  /**
   * How long CloudFormation waits for the manager's answer. The function
   * answers within its 300-second timeout, and Lambda retries a crashed
   * invocation twice: 20 minutes covers the three attempts, where
   * CloudFormation's default would wait an hour.
   *
   * @default Duration.minutes(20)
   */
  readonly serviceTimeout?: Duration;
  /**
   * What happens to the pool when the resource leaves the stack; RETAIN
   * keeps the interfaces (and their addresses) as a pool tagged by hand.
   *
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

export interface ServeOptions {
  /**
   * Whether to declare the manager's launch and terminate lifecycle hooks
   * in the group, so that an instance goes in service holding its address
   * and hands it to its successor before it shuts down.
   *
   * @default true
   */
  readonly lifecycleHooks?: boolean;
}

/**
 * The hooks the manager completes (their names start with
 * network-interface-manager). CONTINUE: the API's default, ABANDON, would
 * terminate and relaunch an instance whose hook timed out; with CONTINUE it
 * serves after two minutes anyway, and the next sync gives it its address.
 * A pool with data volumes waits ten minutes at launch: the manager records
 * heartbeats while one invocation waits for a seat's volume, and ten
 * minutes outlast the gap to the next invocation (the sync runs every five),
 * so the instance never goes in service without its data while the volume
 * still travels.
 */
function lifecycleHooks(keepsData: boolean): autoscaling.CfnAutoScalingGroup.LifecycleHookSpecificationProperty[] {
  return [
    {
      lifecycleHookName: 'network-interface-manager-launch',
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      defaultResult: 'CONTINUE',
      heartbeatTimeout: keepsData ? 600 : 120,
    },
    {
      lifecycleHookName: 'network-interface-manager-terminate',
      lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      defaultResult: 'CONTINUE',
      heartbeatTimeout: 120,
    },
  ];
}

/**
 * A `Custom::NetworkInterfacePool`: network interfaces the manager creates
 * (or adopts) and keeps attached to the running instances of the pool.
 *
 * The pool's physical id comes from the stack and the logical id, so keep
 * this construct's id and path: a new logical id is a new pool, with new
 * addresses.
 */
export class NetworkInterfacePool extends Construct {
  private readonly resource: CustomResource;
  private readonly keepsData: boolean;

  constructor(scope: Construct, id: string, props: NetworkInterfacePoolProps) {
    super(scope, id);
    if (props.manager !== undefined && props.serviceTokenParameterName !== undefined) {
      throw new Error('Give the pool a manager or a serviceTokenParameterName, not both');
    }
    const serviceToken =
      props.manager?.serviceToken ??
      ssm.StringParameter.valueForStringParameter(
        this,
        props.serviceTokenParameterName ?? DEFAULT_SERVICE_TOKEN_PARAMETER_NAME,
      );
    this.resource = new CustomResource(this, 'Resource', {
      // The manager refuses CDK's default, AWS::CloudFormation::CustomResource.
      resourceType: 'Custom::NetworkInterfacePool',
      serviceToken,
      serviceTimeout: props.serviceTimeout ?? Duration.minutes(20),
      removalPolicy: props.removalPolicy,
      properties: schemaProperties(props),
    });
    this.keepsData = (props.volumes?.length ?? 0) > 0;
  }

  /** The pool's name, once declared (`Fn::GetAtt Name`). */
  public get name(): string {
    return this.resource.getAttString('Name');
  }

  /** The pool's addresses: the created interfaces' in declaration order, then the adopted ones'. */
  public get privateIpAddresses(): string[] {
    return Token.asList(this.resource.getAtt('PrivateIpAddresses'));
  }

  /** The pool's interfaces, in the order of privateIpAddresses. */
  public get networkInterfaceIds(): string[] {
    return Token.asList(this.resource.getAtt('NetworkInterfaceIds'));
  }

  /** Each member's ordinal, 1-255, its seat in a cluster, in the order of privateIpAddresses. */
  public get ordinals(): string[] {
    return Token.asList(this.resource.getAtt('Ordinals'));
  }

  /** The members' public addresses, in the same order; only with publicIp or elasticIpAllocationIds. */
  public get publicIpAddresses(): string[] {
    return Token.asList(this.resource.getAtt('PublicIpAddresses'));
  }

  /** The members' Elastic IP allocations, in the same order; only with publicIp or elasticIpAllocationIds. */
  public get allocationIds(): string[] {
    return Token.asList(this.resource.getAtt('AllocationIds'));
  }

  /**
   * Makes the group's instances clients of the pool: the group carries the
   * pool tag (which lets the manager complete its hooks there) and gives it
   * to the instances it launches; the hooks are declared in the group
   * itself, as a separate LifecycleHook resource is created after the group
   * and its first instances would launch without it.
   */
  public serve(group: autoscaling.AutoScalingGroup, options: ServeOptions = {}): void {
    const cfnGroup = group.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    Tags.of(cfnGroup).add(POOL_TAG_KEY, this.name, { applyToLaunchedInstances: true });
    if (options.lifecycleHooks ?? true) {
      const declared = cfnGroup.lifecycleHookSpecificationList ?? [];
      if (!Array.isArray(declared)) {
        throw new Error(`${group.node.path}: its lifecycle hooks are a token; add the manager's hooks to it yourself`);
      }
      cfnGroup.lifecycleHookSpecificationList = [...declared, ...lifecycleHooks(this.keepsData)];
    }
  }
}

function schemaProperties(declaration: NetworkInterfacePoolDeclaration): Record<string, unknown> {
  return schemaObject(POOL_PROPERTIES, {
    ...declaration,
    tags: declaration.tags?.map((tag) => schemaObject(POOL_TAG_PROPERTIES, tag)),
    volumes: declaration.volumes?.map((volume) => schemaObject(POOL_VOLUME_PROPERTIES, volume)),
  });
}

/** The fields that have a value, under their schema properties. */
function schemaObject<T extends object>(
  fields: SchemaProperties<T>,
  value: { readonly [Field in keyof T]?: unknown },
): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const field of Object.keys(fields) as (keyof T)[]) {
    if (value[field] !== undefined) {
      properties[fields[field].property] = value[field];
    }
  }
  return properties;
}
