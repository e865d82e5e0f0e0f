import assert from 'node:assert/strict';
import path from 'node:path';
import ts from 'typescript';
import { configSchema } from '../../src/config/load.js';
import type { JsonSchema } from '../../src/config/schema.js';
import { REPO } from '../cli/run-cli.js';

/**
 * Keeps `Config` (src/config/types.ts) and the JSON Schema in step: reads the interface with the
 * TypeScript compiler and compares it key by key with the schema — names, optionality, nullability and
 * the kind of each leaf (number / string / boolean / array / the literal set of an enum).
 */
describe('config: the Config type and the schema stay in step', function () {
  this.timeout(60_000);
  let checker: ts.TypeChecker;
  let configType: ts.Type;

  before(() => {
    const file = path.join(REPO, 'src', 'config', 'types.ts');
    // the project's own compiler options, so imported types (capture options, node-libcamera) resolve as in the build
    const tsconfig = path.join(REPO, 'tsconfig.json');
    const read = ts.readConfigFile(tsconfig, (f) => ts.sys.readFile(f));
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO);
    const program = ts.createProgram([file], { ...parsed.options, noEmit: true, skipLibCheck: true });
    const errors = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
    assert.deepEqual(errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [], 'types.ts type-checks');
    checker = program.getTypeChecker();
    const sf = program.getSourceFile(file);
    assert.ok(sf, `cannot read ${file}`);
    const decl = sf.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === 'Config');
    assert.ok(decl, 'types.ts declares interface Config');
    configType = checker.getTypeAtLocation(decl);
  });

  /** Keys of the schema that may be absent from a loaded config (no default); the loader fills device.*. */
  const LOADER_FILLS = new Set(['device.id', 'device.name']);

  function leafKind(t: ts.Type): Set<string> {
    const parts = t.isUnion() ? t.types : [t];
    const out = new Set<string>();
    for (const p of parts) {
      if (p.flags & ts.TypeFlags.Null) out.add('null');
      else if (p.flags & ts.TypeFlags.Undefined) continue;
      else if (p.flags & (ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral)) out.add('number');
      else if (p.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral)) out.add('string');
      else if (p.flags & (ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral)) out.add('boolean');
      else if (checker.isArrayType(p) || checker.isTupleType(p)) out.add('array');
      else out.add('object');
    }
    return out;
  }

  function literals(t: ts.Type): unknown[] | null {
    const parts = (t.isUnion() ? t.types : [t]).filter((p) => !(p.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
    const out: unknown[] = [];
    for (const p of parts) {
      if (p.isStringLiteral() || p.isNumberLiteral()) out.push(p.value);
      else if (p.flags & ts.TypeFlags.BooleanLiteral) out.push(checker.typeToString(p) === 'true');
      else return null;
    }
    return out;
  }

  function schemaKinds(s: JsonSchema): Set<string> {
    const t = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
    return new Set(t.map((x) => (x === 'integer' ? 'number' : x)));
  }

  function compare(schema: JsonSchema, type: ts.Type, at: string, problems: string[]): void {
    const props = schema.properties ?? {};
    const typeProps = new Map(checker.getPropertiesOfType(type).map((p) => [p.name, p]));
    for (const [k, sub] of Object.entries(props)) {
      const p = at ? `${at}.${k}` : k;
      const sym = typeProps.get(k);
      if (!sym) {
        problems.push(`${p}: in the schema, not in Config`);
        continue;
      }
      const optional = (sym.flags & ts.SymbolFlags.Optional) !== 0;
      const mayBeAbsent = sub.default === undefined && !LOADER_FILLS.has(p) && !(schema.required ?? []).includes(k);
      if (optional !== mayBeAbsent && !LOADER_FILLS.has(p)) problems.push(`${p}: Config says ${optional ? 'optional' : 'required'}, the schema ${mayBeAbsent ? 'has no default' : 'has a default'}`);
      const t = checker.getNonNullableType(checker.getTypeOfSymbol(sym));
      const full = checker.getTypeOfSymbol(sym);
      const want = schemaKinds(sub);
      const got = leafKind(full);
      if (optional) got.delete('undefined');
      if ([...want].sort().join() !== [...got].sort().join()) problems.push(`${p}: schema type ${[...want].join('|')}, Config type ${checker.typeToString(full)}`);
      if (sub.enum) {
        const lit = literals(full);
        if (!lit || [...lit].map(String).sort().join() !== [...sub.enum].map(String).sort().join()) {
          problems.push(`${p}: schema enum ${JSON.stringify(sub.enum)}, Config type ${checker.typeToString(full)}`);
        }
      }
      if (want.has('object')) {
        const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
        if (index && typeof sub.additionalProperties === 'object') compare(sub.additionalProperties, index.type, `${p}.<key>`, problems);
        else if (!index) compare(sub, t, p, problems);
        // else: an opaque Record<string, unknown> in Config (validated by its owner's own type)
      }
    }
    for (const k of typeProps.keys()) if (!(k in props)) problems.push(`${at ? `${at}.` : ''}${k}: in Config, not in the schema`);
  }

  it('every key, its optionality, nullability, kind and enum values match', () => {
    const problems: string[] = [];
    compare(configSchema(), configType, '', problems);
    assert.deepEqual(problems, []);
  });

  it('the comparison does catch a drift (a schema with an extra key and a changed enum)', () => {
    const s = structuredClone(configSchema());
    s.properties!.detection!.properties!.extra_key = { type: 'number', default: 1 };
    s.properties!.masks!.properties!.encoding = { type: 'string', enum: ['png'], default: 'png' };
    const problems: string[] = [];
    compare(s, configType, '', problems);
    assert.deepEqual(problems.sort(), [
      'detection.extra_key: in the schema, not in Config',
      `masks.encoding: schema enum ["png"], Config type "png" | "rle"`,
    ]);
  });
});
