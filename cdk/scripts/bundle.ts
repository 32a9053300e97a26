/**
 * Run by `npm pack` (prepack): copies the deployment template, and the zip
 * its `Code` names, into bundle/ in the repository's layout, so that a
 * packed copy of the constructs deploys what this checkout would.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { readCloudFormationTemplate } from '../lib/cloudformation-yaml';
import { templateCodeFile } from '../lib/manager-template';

// This file runs from dist/scripts/.
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const REPOSITORY_ROOT = path.resolve(PACKAGE_ROOT, '..');
const BUNDLE = path.join(PACKAGE_ROOT, 'bundle');

const templateFile = path.join(REPOSITORY_ROOT, 'cloudformation', 'network-interface-manager.yaml');
const zip = templateCodeFile(templateFile, readCloudFormationTemplate(templateFile), 'Function');
if (!existsSync(zip)) {
  throw new Error(`No function code at ${zip}: run \`make zip\` in the repository before packing`);
}
for (const file of [templateFile, zip]) {
  const copy = path.join(BUNDLE, path.relative(REPOSITORY_ROOT, file));
  mkdirSync(path.dirname(copy), { recursive: true });
  copyFileSync(file, copy);
}
