import { asList } from '../vocabulary/json.js';
import { SNOMED } from '../vocabulary/canonical.js';

/**
 * R4 makes the vital signs profiles mandatory for Observations carrying their codes ("If a resource uses one of
 * the vital signs codes, it SHALL conform to the profile"). The code lists are those the HL7 Java validator
 * uses for the same rule (its BasePolicyAdvisorForFullValidation), LOINC and SNOMED CT alike; the first
 * matching row wins, as there.
 */
const LOINC = 'http://loinc.org';
const PROFILE = 'http://hl7.org/fhir/StructureDefinition/';

const TABLE: readonly { system: string; codes: readonly string[]; profile: string }[] = [
  { system: LOINC, profile: 'vitalspanel', codes: ['85353-1'] },
  { system: LOINC, profile: 'resprate', codes: ['9279-1', '76170-0', '76172-6', '76171-8', '19840-8', '33438-3', '76270-8', '11291-2'] },
  {
    system: LOINC,
    profile: 'heartrate',
    codes: ['60978-4', '73795-7', '73799-9', '76476-1', '76477-9', '8867-4', '8889-8', '8890-6', '8891-4', '8892-2', '8893-0', '40443-4', '55425-3', '68999-2', '11328-2', '69000-8', '8886-4'],
  },
  { system: LOINC, profile: 'oxygensat', codes: ['2708-6', '19224-5', '20564-1', '2709-4', '2710-2', '2713-6', '51733-4', '59408-5', '59417-6', '89276-0', '97549-0'] },
  {
    system: LOINC,
    profile: 'bodytemp',
    codes: ['8310-5', '60834-9', '60835-6', '60836-4', '60838-0', '60955-2', '61009-7', '75539-7', '75987-8', '76010-8', '76011-6', '76278-1', '8309-7', '8328-7', '8329-5', '8330-3', '8331-1', '8332-9', '8333-7', '8334-5', '91371-5', '98657-0', '98663-8'],
  },
  { system: LOINC, profile: 'bodyheight', codes: ['8302-2', '3137-7', '3138-5', '8306-3', '8308-9'] },
  { system: LOINC, profile: 'headcircum', codes: ['9843-4', '8287-5'] },
  { system: LOINC, profile: 'bodyweight', codes: ['29463-7', '3141-9', '3142-7', '75292-3', '79348-9', '8350-1', '8351-9'] },
  { system: LOINC, profile: 'bmi', codes: ['39156-5', '89270-3'] },
  { system: LOINC, profile: 'bp', codes: ['85354-9', '35094-2', '8459-0', '76534-7', '55284-4', '8480-6'] },
  { system: SNOMED, profile: 'vitalspanel', codes: ['46680005'] },
  { system: SNOMED, profile: 'resprate', codes: ['86290005', '271625008', '271306003'] },
  { system: SNOMED, profile: 'heartrate', codes: ['271306003', '249043002', '444981005', '399017001', '251670001', '429525003', '429614003'] },
  { system: SNOMED, profile: 'oxygensat', codes: ['442476006', '431314004'] },
  {
    system: SNOMED,
    profile: 'bodytemp',
    codes: ['386725007', '276885007', '300076005', '1222808002', '364246006', '307047009', '708499008', '431598003', '698831002', '698832009', '415882003', '415974002', '415929009', '415945006'],
  },
  { system: SNOMED, profile: 'bodyheight', codes: ['1153637007', '1162419008', '50373000', '1162418000', '1230278008', '1162392001', '1162417005'] },
  { system: SNOMED, profile: 'headcircum', codes: ['363812007', '169876006', '1269262007', '363811000'] },
  { system: SNOMED, profile: 'bodyweight', codes: ['735395000', '425024002', '424927000', '784399000', '1162416001', '1162415002'] },
  { system: SNOMED, profile: 'bmi', codes: ['60621009'] },
  {
    system: SNOMED,
    profile: 'bp',
    codes: ['251076008', '163033001', '163035008', '386534000', '386536003', '271649006', '271650006', '407556006', '407554009', '716579001', '399304008'],
  },
];

export interface ImpliedProfile {
  profile: string;
  system: string;
  code: string;
}

/** The vital signs profile an R4 Observation must conform to because of its code, if any. */
export function impliedVitalSignsProfile(observation: Record<string, unknown>): ImpliedProfile | undefined {
  const code = observation.code as { coding?: unknown } | undefined;
  const codings = asList(code?.coding) as { system?: unknown; code?: unknown }[];
  for (const row of TABLE) {
    const hit = codings.find((c) => c?.system === row.system && row.codes.includes(String(c.code)));
    if (hit) return { profile: PROFILE + row.profile, system: row.system, code: String(hit.code) };
  }
  return undefined;
}
