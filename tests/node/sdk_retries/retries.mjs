// Sends N requests with the TypeScript SDK's default retry settings; prints {"ok": n, "failed": n}.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, apiKey, n, stream] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey });
let ok = 0;
let failed = 0;
for (let i = 0; i < Number(n); i++) {
  const params = { model: "claude-sonnet-4-6", max_tokens: 20, messages: [{ role: "user", content: `ts ${i}` }] };
  try {
    if (stream === "stream") {
      await client.messages.stream(params).finalMessage();
    } else {
      await client.messages.create(params);
    }
    ok++;
  } catch (err) {
    if (!(err instanceof Anthropic.APIError)) throw err;
    failed++;
  }
}
console.log(JSON.stringify({ ok, failed }));
