#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

// `cdk synth` / `cdk deploy` entry point. Settings come from `-c vigil:<name>=<value>`
// (lib/app.ts); VIGIL_SKIP_BUNDLING=1 synthesizes without compiling Rust (CI, tests).
const app = buildApp(new App(appProps()));
app.synth();

function appProps() {
  return process.env.VIGIL_SKIP_BUNDLING === '1'
    ? // postCliContext outranks the CLI's own bundling-stacks value.
      { postCliContext: { 'aws:cdk:bundling-stacks': [] } }
    : {};
}
