// Validates custom resources against their operators' published schemas, as compiled into
// the kubernetes-models packages (package.json pins them).
// stdin: a JSON array of objects; stdout: a JSON array with one entry per object,
// {"kind", "name", "error"}: error is null when valid, "no schema" when no package carries one.
import { readFileSync } from "node:fs";

// API group -> the package that carries its operator's schemas.
const PACKAGES = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "keda.sh": "@kubernetes-models/keda",
};

async function modelOf(apiVersion, kind) {
  const group = apiVersion.split("/")[0];
  const pkg = PACKAGES[group];
  if (!pkg) return null;
  try {
    const module = await import(`${pkg}/${apiVersion}`);
    return module[kind] ?? null;
  } catch {
    return null;
  }
}

const objects = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const obj of objects) {
  const { apiVersion, kind } = obj;
  const entry = { kind, name: obj.metadata?.name ?? null, error: null };
  const Model = await modelOf(apiVersion, kind);
  if (Model === null) {
    entry.error = `no schema for ${apiVersion} ${kind}`;
  } else {
    try {
      new Model(obj).validate();
    } catch (err) {
      entry.error = String(err.message ?? err);
    }
  }
  results.push(entry);
}
process.stdout.write(JSON.stringify(results));
