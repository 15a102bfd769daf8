// The Vercel AI SDK (ai 6 + @ai-sdk/anthropic 3) against a mock, one case per run, with the SDK's
// own defaults. Usage: MOCK_URL=http://127.0.0.1:PORT node cases.mjs CASE
// Prints one JSON line: what the SDK returned and the request body it sent, for tests/compat to check.
// A thrown SDK error exits non-zero with the error (and the mock's answer, if any) on stderr.
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateObject, generateText, Output, stepCountIs, streamObject, streamText, tool } from 'ai';
import { z } from 'zod';

const anthropic = createAnthropic({ baseURL: `${process.env.MOCK_URL}/v1`, apiKey: 'sk-ant-test' });
const MODEL = 'claude-haiku-4-5';
const model = anthropic(MODEL);

const weather = tool({
  description: 'Current weather for a city',
  inputSchema: z.object({ city: z.string().min(1), unit: z.enum(['celsius', 'fahrenheit']) }),
  execute: async ({ city, unit }) => ({ city, unit, temperature: 21 }),
});

const Recipe = z.object({
  name: z.string(),
  servings: z.number().int(),
  vegetarian: z.boolean(),
  ingredients: z.array(z.object({ item: z.string(), grams: z.number() })),
  course: z.enum(['starter', 'main', 'dessert']),
});

// The request body the provider sent (the SDK reports it as an object or as its JSON text).
const sent = (request) => (typeof request?.body === 'string' ? JSON.parse(request.body) : request?.body);

const cases = {
  async generateText() {
    const r = await generateText({ model, prompt: 'Say hello.' });
    return { text: r.text, finishReason: r.finishReason, body: sent(r.request) };
  },
  async streamText() {
    const r = streamText({ model, prompt: 'Tell me about tides.' });
    const chunks = [];
    for await (const chunk of r.textStream) chunks.push(chunk);
    return { chunks, text: await r.text, finishReason: await r.finishReason };
  },
  async toolsZod() {
    const r = await generateText({ model, tools: { weather }, toolChoice: 'required', prompt: 'Weather in Paris?' });
    return { toolCalls: r.toolCalls.map((c) => ({ name: c.toolName, input: c.input })), body: sent(r.request) };
  },
  async toolLoop() {
    // The first step must call the tool, so the loop is not left to chance; the second answers in text.
    const r = await generateText({
      model,
      tools: { weather },
      stopWhen: stepCountIs(2),
      prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? 'required' : 'none' }),
      prompt: 'Weather in Paris?',
    });
    return {
      steps: r.steps.map((s) => ({
        toolCalls: s.toolCalls.map((c) => c.toolName),
        toolResults: s.toolResults.map((t) => t.output),
        text: s.text,
      })),
      text: r.text,
    };
  },
  async thinking() {
    const r = await generateText({
      model,
      prompt: 'Is 1021 prime?',
      providerOptions: { anthropic: { thinking: { type: 'enabled', budgetTokens: 1024 } } },
    });
    return { reasoning: r.reasoningText, text: r.text, body: sent(r.request) };
  },
  async retry529() {
    const r = await generateText({ model, prompt: 'Say hello.' });
    return { text: r.text };
  },
  async generateObject() {
    const r = await generateObject({ model, schema: Recipe, prompt: 'A recipe for soup.' });
    return { object: r.object, body: sent(r.request) };
  },
  async outputObject() {
    const r = await generateText({ model, output: Output.object({ schema: Recipe }), prompt: 'A recipe for soup.' });
    return { object: r.output, body: sent(r.request) };
  },
  async streamObject() {
    const r = streamObject({ model, schema: Recipe, prompt: 'A recipe for soup.' });
    let partials = 0;
    for await (const _ of r.partialObjectStream) partials += 1;
    return { object: await r.object, partials, body: sent(await r.request) };
  },
  async sonnet46Default() {
    const r = await generateText({ model: anthropic('claude-sonnet-4-6'), prompt: 'Say hello.' });
    return { text: r.text, body: sent(r.request) };
  },
  async fable5ForcedTool() {
    const r = await generateText({
      model: anthropic('claude-fable-5'),
      tools: { weather },
      toolChoice: 'required',
      prompt: 'Weather in Paris?',
    });
    return { toolCalls: r.toolCalls.map((c) => ({ name: c.toolName, input: c.input })), body: sent(r.request) };
  },
};

const name = process.argv[2];
if (!(name in cases)) {
  console.error(`unknown case ${name}; cases: ${Object.keys(cases).join(', ')}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await cases[name]()));
} catch (err) {
  // An API error carries the mock's status and body: print them so a failing test says why.
  const detail = { name: err?.name, message: err?.message, status: err?.statusCode, body: err?.responseBody };
  if (err?.lastError) detail.lastError = { message: err.lastError.message, body: err.lastError.responseBody };
  if (err?.text !== undefined) detail.text = err.text;
  console.error(JSON.stringify(detail));
  process.exit(1);
}
