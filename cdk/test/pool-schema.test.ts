import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  POOL_PROPERTIES,
  POOL_TAG_PROPERTIES,
  POOL_VOLUME_PROPERTIES,
  POOL_VOLUME_TYPES,
} from '../lib/network-interface-pool';
import { readPoolSchema } from './support';

// The schema (schemas/network-interface-pool.schema.json) is the truth; these
// tests fail when the pool's props and it disagree.

const CLOUDFORMATION_OWN = ['ServiceToken', 'ServiceTimeout'];
const schema = readPoolSchema();
const entries = Object.entries(POOL_PROPERTIES);

test("the props are the schema properties, less CloudFormation's own", () => {
  const declared = Object.keys(schema.properties).filter((property) => !CLOUDFORMATION_OWN.includes(property));
  assert.deepEqual(entries.map(([, entry]) => entry.property).sort(), declared.sort());
});

test('each prop is its schema property in camelCase', () => {
  for (const [prop, entry] of entries) {
    assert.equal(prop, entry.property[0].toLowerCase() + entry.property.slice(1));
  }
});

test("each prop has its schema property's type, and an array's items theirs", () => {
  for (const [prop, entry] of entries) {
    const declared = schema.properties[entry.property];
    assert.equal(entry.type, declared.type, `${prop}: type`);
    assert.equal('items' in entry ? entry.items : undefined, declared.items?.type, `${prop}: items`);
  }
});

test('the props the schema requires are the ones the declaration requires', () => {
  const required = entries.filter(([, entry]) => entry.required).map(([, entry]) => entry.property);
  assert.deepEqual(required.sort(), [...schema.required].sort());
});

// The objects in the props' lists, each field against the properties of its list's items.
const NESTED = [
  { prop: 'tags', fields: POOL_TAG_PROPERTIES },
  { prop: 'volumes', fields: POOL_VOLUME_PROPERTIES },
] as const;

test('the props whose items are objects are the ones whose fields are compared', () => {
  const objectLists = entries.filter(([, entry]) => 'items' in entry && entry.items === 'object');
  assert.deepEqual(objectLists.map(([prop]) => prop).sort(), NESTED.map(({ prop }) => prop).sort());
});

for (const { prop, fields } of NESTED) {
  const items = schema.properties[POOL_PROPERTIES[prop].property].items;
  const declared = items?.properties ?? {};
  const fieldEntries = Object.entries(fields);

  test(`the fields of ${prop} are its items' schema properties, in camelCase, with their types`, () => {
    assert.deepEqual(fieldEntries.map(([, entry]) => entry.property).sort(), Object.keys(declared).sort());
    for (const [field, entry] of fieldEntries) {
      assert.equal(field, entry.property[0].toLowerCase() + entry.property.slice(1));
      assert.equal(entry.type, declared[entry.property].type, `${prop}.${field}: type`);
    }
  });

  test(`the fields of ${prop} the schema requires are the ones its declaration requires`, () => {
    const required = fieldEntries.filter(([, entry]) => entry.required).map(([, entry]) => entry.property);
    assert.deepEqual(required.sort(), [...(items?.required ?? [])].sort());
  });
}

test("a volume's types are the schema's", () => {
  const volumeType = schema.properties[POOL_PROPERTIES.volumes.property].items?.properties?.[
    POOL_VOLUME_PROPERTIES.volumeType.property
  ];
  assert.deepEqual([...POOL_VOLUME_TYPES].sort(), [...(volumeType?.enum ?? [])].sort());
});
