// Headless Debian Chromium for the browser tests (test/e2e/): where it lives, how it is launched, whether the
// tests run (CI must have it: .ci/run installs it), and where screenshots go.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// The flags of the machine notes: without the background-networking ones Chromium keeps dialing Google's hosts.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Screenshots of the browser tests (not committed). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium && process.env.CI === 'true') throw new Error(`CI needs Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium)`);
/** The `skip` option of a browser suite: false, or why it cannot run here. */
export const skipWithoutChromium: false | string = hasChromium
  ? false
  : `no Chromium at ${CHROMIUM}: apt-get install chromium (CI installs it) to run the browser tests`;

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
