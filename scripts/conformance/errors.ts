import { GatewayError } from '../../src/errors.js';

/** A TestScript element the runner does not carry out: refused when the script is read, never silently skipped. */
export class UnsupportedTestScriptElement extends GatewayError {
  static override readonly code = 'ERR_TESTSCRIPT_UNSUPPORTED';
}

/** A TestScript that cannot be run as written: unreadable, a fixture or variable it names is missing. */
export class TestScriptInvalid extends GatewayError {
  static override readonly code = 'ERR_TESTSCRIPT_INVALID';
}

/** The command line asks for something the runner cannot do. */
export class ConformanceUsage extends GatewayError {
  static override readonly code = 'ERR_CONFORMANCE_USAGE';
}
