import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POOL_PROPERTIES, POOL_TAG_PROPERTIES } from '../lib/network-interface-pool';
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

test("a tag's fields are the schema's tag properties, all required", () => {
  const tag = schema.properties[POOL_PROPERTIES.tags.property].items;
  assert.deepEqual(Object.values(POOL_TAG_PROPERTIES).sort(), Object.keys(tag?.properties ?? {}).sort());
  assert.deepEqual(Object.values(POOL_TAG_PROPERTIES).sort(), [...(tag?.required ?? [])].sort());
});
