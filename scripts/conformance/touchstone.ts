/**
 * Touchstone (the platform Nictiz's scripts are written for) accepts two forms in STU3 and R4 TestScripts that
 * those releases do not define: `<profile id="…" value="canonical"/>` (R5's canonical profile) and
 * `<stopTestOnFail value="…"/>` (R5's assert element). Before the gateway's strict XML reader reads a script, they
 * are rewritten to the releases' own forms: a Reference, and R5's element as its cross-version extension.
 */
export const STOP_TEST_ON_FAIL_EXTENSION = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-TestScript.setup.action.assert.stopTestOnFail';

const CANONICAL_PROFILE = /<profile\s+id="([^"]*)"\s+value="([^"]*)"\s*\/>/g;
const ASSERT_BLOCK = /<assert>([\s\S]*?)<\/assert>/g;
const STOP_TEST_ON_FAIL = /\s*<stopTestOnFail\s+value="(true|false)"\s*\/>/;

export function standardTestScriptXml(xml: string): string {
  return xml.replace(CANONICAL_PROFILE, '<profile id="$1"><reference value="$2"/></profile>').replace(ASSERT_BLOCK, (block, body: string) => {
    const stop = STOP_TEST_ON_FAIL.exec(body);
    if (!stop) return block;
    const extension = `<extension url="${STOP_TEST_ON_FAIL_EXTENSION}"><valueBoolean value="${stop[1]}"/></extension>`;
    return `<assert>${extension}${body.replace(STOP_TEST_ON_FAIL, '')}</assert>`;
  });
}
