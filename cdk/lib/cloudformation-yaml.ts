import { readFileSync } from 'node:fs';
import { parse, type Tags } from 'yaml';

/** A template as CloudFormation reads it: short-form tags (`!Ref`, `!Sub`, ...) expanded to their JSON form. */
export interface CloudFormationTemplate {
  readonly Parameters?: Record<string, ParameterDeclaration>;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources: Record<string, ResourceDeclaration>;
  readonly Outputs?: Record<string, OutputDeclaration>;
  readonly [section: string]: unknown;
}

export interface ParameterDeclaration {
  readonly Type: string;
  readonly Default?: unknown;
  readonly AllowedValues?: unknown[];
  readonly AllowedPattern?: string;
  readonly MinValue?: number;
  readonly MaxValue?: number;
  readonly MinLength?: number;
  readonly MaxLength?: number;
  readonly [attribute: string]: unknown;
}

export interface ResourceDeclaration {
  readonly Type: string;
  readonly Condition?: string;
  readonly Properties?: Record<string, unknown>;
  readonly [attribute: string]: unknown;
}

export interface OutputDeclaration {
  readonly Value: unknown;
  readonly Condition?: string;
  readonly [attribute: string]: unknown;
}

// Every short form CloudFormation accepts; each may tag a scalar, a sequence
// or a mapping, as the function's full form takes.
const INTRINSIC_FUNCTIONS = [
  'And',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAtt',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'Or',
  'Select',
  'Split',
  'Sub',
  'Transform',
  'ToJsonString',
  'Length',
];

function fullForm(name: string, value: unknown): Record<string, unknown> {
  // `!GetAtt Resource.Attribute` is `Fn::GetAtt: [Resource, Attribute]`; the
  // attribute may hold dots itself (a nested stack's `Outputs.Name`).
  if (name === 'GetAtt' && typeof value === 'string') {
    const dot = value.indexOf('.');
    return { 'Fn::GetAtt': dot < 0 ? [value] : [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value };
}

function tagsOf(tag: string, expand: (value: unknown) => unknown): Tags {
  return [
    { tag, resolve: (value: string) => expand(value) },
    { tag, collection: 'seq', resolve: (seq) => expand(seq.toJSON()) },
    { tag, collection: 'map', resolve: (map) => expand(map.toJSON()) },
  ];
}

const CLOUDFORMATION_TAGS: Tags = [
  ...tagsOf('!Ref', (value) => ({ Ref: value })),
  ...tagsOf('!Condition', (value) => ({ Condition: value })),
  ...INTRINSIC_FUNCTIONS.flatMap((name) => tagsOf(`!${name}`, (value) => fullForm(name, value))),
];

export function parseCloudFormationYaml(text: string): CloudFormationTemplate {
  return parse(text, { customTags: CLOUDFORMATION_TAGS }) as CloudFormationTemplate;
}

export function readCloudFormationTemplate(file: string): CloudFormationTemplate {
  return parseCloudFormationYaml(readFileSync(file, 'utf8'));
}
