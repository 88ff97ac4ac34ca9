// Print a fresh JWKS with one Ed25519 signing key (private part included),
// for the example configuration.  Node's crypto only.
import { generateKeyPairSync, randomUUID } from "node:crypto";

const { privateKey } = generateKeyPairSync("ed25519");
const jwk = privateKey.export({ format: "jwk" });

jwk.kid = randomUUID();
jwk.alg = "EdDSA";
jwk.use = "sig";

process.stdout.write(JSON.stringify({ keys: [jwk] }, null, 2) + "\n");
