import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The runner's own test scripts, written into a temporary folder as a tester would lay them out: an R4 JSON
 * TestScript with a fixture file beside it, and an STU3 XML one (Touchstone's dialect: `<profile value>` and
 * `stopTestOnFail`) in a folder whose properties.json names the release.
 */
const patient = {
  resourceType: 'Patient',
  identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }],
  name: [{ family: 'Jansen', given: ['Anna'] }],
  gender: 'female',
  birthDate: '1940-02-03',
};

const assertion = (label: string, check: Record<string, unknown>, warningOnly = false) => ({ assert: { label, ...check, warningOnly } });

export const JSON_SCRIPT = {
  resourceType: 'TestScript',
  id: 'patient-crud',
  url: 'http://example.org/TestScript/patient-crud',
  name: 'PatientCrud',
  status: 'active',
  contained: [{ resourceType: 'Patient', id: 'minimum', identifier: patient.identifier }],
  fixture: [
    { id: 'patient', autocreate: false, autodelete: false, resource: { reference: 'fixtures/patient.json' } },
    { id: 'patient-minimum', autocreate: false, autodelete: false, resource: { reference: '#minimum' } },
  ],
  profile: [{ id: 'patient-profile', reference: 'http://hl7.org/fhir/StructureDefinition/Patient' }],
  variable: [
    { name: 'patientId', expression: 'Patient.id', sourceId: 'create-response' },
    { name: 'createdAt', headerField: 'Location', sourceId: 'create-response' },
    { name: 'family', defaultValue: 'Jansen' },
  ],
  test: [
    {
      name: 'create',
      action: [
        {
          operation: {
            type: { system: 'http://terminology.hl7.org/CodeSystem/testscript-operation-codes', code: 'create' },
            resource: 'Patient',
            accept: 'application/fhir+json',
            contentType: 'application/fhir+json',
            encodeRequestUrl: true,
            sourceId: 'patient',
            responseId: 'create-response',
          },
        },
        assertion('created', { response: 'created' }),
        assertion('location', { headerField: 'Location', operator: 'notEmpty' }),
      ],
    },
    {
      name: 'read',
      action: [
        {
          operation: {
            type: { code: 'read' },
            resource: 'Patient',
            encodeRequestUrl: true,
            params: '/${patientId}',
            requestHeader: [{ field: 'X-Created', value: '${createdAt}' }],
            responseId: 'read-response',
          },
        },
        assertion('read answers 200', { responseCode: '200' }),
        assertion('FHIR JSON', { contentType: 'application/fhir+json' }),
        assertion('a Patient', { resource: 'Patient' }),
        assertion('family name', { expression: 'Patient.name.family', value: '${family}' }),
        assertion('birth date as sent', { compareToSourceId: 'patient', compareToSourceExpression: 'Patient.birthDate' }),
        assertion('identifier kept', { minimumId: 'patient-minimum' }),
        assertion('valid Patient', { validateProfileId: 'patient-profile' }),
        assertion('has a phone', { expression: 'Patient.telecom.exists()' }, true),
      ],
    },
    {
      name: 'search',
      action: [
        { operation: { type: { code: 'search' }, resource: 'Patient', encodeRequestUrl: true, params: '?family=${family}' } },
        assertion('one match', { expression: 'Bundle.total = 1' }),
      ],
    },
  ],
  teardown: { action: [{ operation: { type: { code: 'delete' }, resource: 'Patient', encodeRequestUrl: true, params: '/${patientId}' } }] },
};

const operation = (code: string, details: Record<string, unknown>) => ({ operation: { type: { code }, encodeRequestUrl: true, ...details } });

/** Operations by targetId, vread, a transaction, and asserts on the request the runner sent. */
export const TARGET_SCRIPT = {
  resourceType: 'TestScript',
  id: 'patient-target',
  url: 'http://example.org/TestScript/patient-target',
  name: 'PatientTarget',
  status: 'active',
  fixture: [
    { id: 'patient', autocreate: false, autodelete: false, resource: { reference: 'fixtures/patient.json' } },
    { id: 'transaction', autocreate: false, autodelete: false, resource: { reference: 'fixtures/transaction.json' } },
  ],
  setup: {
    action: [
      operation('transaction', { sourceId: 'transaction', responseId: 'transaction-response' }),
      assertion('transaction done', { response: 'okay', expression: "Bundle.type = 'transaction-response'" }),
    ],
  },
  test: [
    {
      name: 'by target',
      action: [
        operation('create', { resource: 'Patient', sourceId: 'patient', responseId: 'created' }),
        operation('read', { targetId: 'created' }),
        assertion('read by target', { resource: 'Patient', requestMethod: 'get' }),
        operation('vread', { targetId: 'created', requestId: 'vread-request' }),
        assertion('vread of version 1', { response: 'okay', expression: "Patient.meta.versionId = '1'" }),
        assertion('asked for JSON', { direction: 'request', sourceId: 'vread-request', headerField: 'Accept', value: 'application/fhir+json' }),
        operation('delete', { targetId: 'created' }),
        assertion('deleted', { response: 'noContent' }),
        operation('read', { targetId: 'created' }),
        assertion('gone', { response: 'notFound' }),
      ],
    },
  ],
};

const PATIENT_XML = `<Patient xmlns="http://hl7.org/fhir">
  <identifier><system value="http://fhir.nl/fhir/NamingSystem/bsn"/><value value="999911120"/></identifier>
  <name><family value="Jansen"/><given value="Anna"/></name>
  <gender value="female"/>
  <birthDate value="1940-02-03"/>
</Patient>`;

export const XML_SCRIPT = `<?xml version="1.0" encoding="UTF-8"?>
<TestScript xmlns="http://hl7.org/fhir">
  <id value="patient-crud-xml"/>
  <url value="http://example.org/TestScript/patient-crud-xml"/>
  <name value="PatientCrudXml"/>
  <status value="active"/>
  <fixture id="patient">
    <autocreate value="false"/>
    <autodelete value="false"/>
    <resource><reference value="../_reference/patient.xml"/></resource>
  </fixture>
  <profile id="patient-profile" value="http://hl7.org/fhir/StructureDefinition/Patient"/>
  <variable>
    <name value="patientId"/>
    <expression value="Patient.id"/>
    <sourceId value="create-response"/>
  </variable>
  <test>
    <name value="create"/>
    <action>
      <operation>
        <type><system value="http://hl7.org/fhir/testscript-operation-codes"/><code value="create"/></type>
        <resource value="Patient"/>
        <accept value="xml"/>
        <contentType value="xml"/>
        <encodeRequestUrl value="true"/>
        <responseId value="create-response"/>
        <sourceId value="patient"/>
      </operation>
    </action>
    <action>
      <assert>
        <description value="created"/>
        <operator value="in"/>
        <responseCode value="200,201"/>
        <stopTestOnFail value="true"/>
        <warningOnly value="false"/>
      </assert>
    </action>
  </test>
  <test>
    <name value="read"/>
    <action>
      <operation>
        <type><system value="http://hl7.org/fhir/testscript-operation-codes"/><code value="read"/></type>
        <resource value="Patient"/>
        <accept value="xml"/>
        <encodeRequestUrl value="true"/>
        <params value="/\${patientId}"/>
      </operation>
    </action>
    <action>
      <assert>
        <label value="read answers 200"/>
        <response value="okay"/>
        <stopTestOnFail value="true"/>
        <warningOnly value="false"/>
      </assert>
    </action>
    <action>
      <assert>
        <label value="FHIR XML"/>
        <contentType value="xml"/>
        <warningOnly value="false"/>
      </assert>
    </action>
    <action>
      <assert>
        <label value="family name"/>
        <expression value="Patient.name.family = 'Jansen'"/>
        <warningOnly value="false"/>
      </assert>
    </action>
  </test>
</TestScript>`;

/** Writes the scripts under `folder`: r4/patient-crud.json, r4/patient-target.json and stu3/tests/patient-crud.xml. */
export function writeScripts(folder: string): { json: string; xml: string; target: string } {
  const r4 = path.join(folder, 'r4');
  mkdirSync(path.join(r4, 'fixtures'), { recursive: true });
  writeFileSync(path.join(r4, 'fixtures', 'patient.json'), JSON.stringify(patient));
  writeFileSync(path.join(r4, 'patient-crud.json'), JSON.stringify(JSON_SCRIPT, null, 2));
  writeFileSync(path.join(r4, 'fixtures', 'transaction.json'), JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient, request: { method: 'POST', url: 'Patient' } }] }));
  writeFileSync(path.join(r4, 'patient-target.json'), JSON.stringify(TARGET_SCRIPT, null, 2));
  const stu3 = path.join(folder, 'stu3');
  mkdirSync(path.join(stu3, 'tests'), { recursive: true });
  mkdirSync(path.join(stu3, '_reference'), { recursive: true });
  writeFileSync(path.join(stu3, 'properties.json'), JSON.stringify({ fhirVersion: 'STU3' }));
  writeFileSync(path.join(stu3, '_reference', 'patient.xml'), PATIENT_XML);
  writeFileSync(path.join(stu3, 'tests', 'patient-crud.xml'), XML_SCRIPT);
  return { json: path.join(r4, 'patient-crud.json'), xml: path.join(stu3, 'tests', 'patient-crud.xml'), target: path.join(r4, 'patient-target.json') };
}
