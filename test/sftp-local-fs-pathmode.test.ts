/**
 * The LocalFileSystem suite again in path mode, the fallback for systems without /proc (macOS):
 * every sequential check of the jail holds there too. Races are closed in descriptor mode only
 * (test/sftp-jail.test.ts); docs/sftp.md says so.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { overrideDescriptorWalk } from '../src/sftp/jailWalk';
import { LocalFileSystem } from '../src/sftp/LocalFileSystem';

overrideDescriptorWalk(false);
// Loaded after the override (an import would be hoisted above it).
require('./sftp-local-fs.test');

test('path mode is what the suite above ran in', () => {
  assert.equal(new LocalFileSystem(os.tmpdir()).descriptorWalk, false);
});
