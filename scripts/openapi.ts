/** `npm run openapi`: writes the OpenAPI document and the client's types (scripts/openapi-files.ts). */
import { writeFileSync } from "node:fs";
import { generatedFiles } from "./openapi-files.js";

for (const [path, text] of Object.entries(generatedFiles())) {
  writeFileSync(path, text);
  console.log(JSON.stringify({ msg: "written", path, bytes: Buffer.byteLength(text) }));
}
