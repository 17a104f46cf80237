// Verifies Bankbridge webhook deliveries with the Standard Webhooks reference
// library (npm "standardwebhooks"), independent of Bankbridge's Go code.
//
// Input (a file named as the first argument, or stdin): JSON
//   {"deliveries": [{"secret": "whsec_…", "headers": {"webhook-id": …}, "body": "…raw body…",
//                    "expect": "valid" | "invalid"}]}
// "expect" defaults to "valid". Prints one line per delivery and a JSON summary;
// exits 1 when any delivery's outcome differs from what was expected.
import { readFileSync } from "node:fs";
import { Webhook } from "standardwebhooks";

const input = JSON.parse(readFileSync(process.argv[2] ?? 0, "utf8"));
const deliveries = input.deliveries ?? [];
let verified = 0, refused = 0;
const mismatches = [];
for (const [i, d] of deliveries.entries()) {
  const expect = d.expect ?? "valid";
  let outcome, detail = "";
  try {
    const parsed = new Webhook(d.secret).verify(d.body, d.headers);
    if (!parsed || typeof parsed.type !== "string" || typeof parsed.data !== "object") {
      throw new Error("verified body lacks type/data");
    }
    outcome = "valid";
    verified++;
  } catch (e) {
    outcome = "invalid";
    detail = e.message;
    refused++;
  }
  const ok = outcome === expect;
  if (!ok) mismatches.push({ index: i, id: d.headers["webhook-id"], expect, outcome, detail });
  console.log(`${ok ? "ok  " : "FAIL"} ${i} ${d.headers["webhook-id"]} ${outcome}${detail ? " (" + detail + ")" : ""}`);
}
console.log(JSON.stringify({ total: deliveries.length, verified, refused, mismatches }));
process.exit(mismatches.length === 0 && deliveries.length > 0 ? 0 : 1);
