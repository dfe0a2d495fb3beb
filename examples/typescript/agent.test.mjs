// An agent tested against openlinq from TypeScript/JavaScript: node's built-in test
// runner, the official @linqapp/sdk, and openlinq's harness API (/sim/v1) over fetch.
//
//   OPENLINQ_URL=http://127.0.0.1:8080 node --test agent.test.mjs
//
// (a local `openlinq serve --clock manual`; OPENLINQ_OPERATOR_KEY for a hosted one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import LinqAPIV3 from '@linqapp/sdk';

const SERVER = (process.env.OPENLINQ_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const OPERATOR = process.env.OPENLINQ_OPERATOR_KEY;

// The agent under test: answers a greeting through the SDK.
async function agentReplies(client, chatId, text) {
  const reply = /^(hi|hello)\b/i.test(text) ? 'Hello from TypeScript!' : `You said: ${text}`;
  await client.chats.messages.send(chatId, { message: { parts: [{ type: 'text', value: reply }] } });
}

// The harness: a fresh account per test (its own key and lines), phones, settle, wait.
async function harness(path, { method = 'GET', key, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (OPERATOR) headers['x-operator-key'] = OPERATOR;
  const response = await fetch(`${SERVER}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(payload)}`);
  return payload;
}

async function testAccount() {
  const account = await harness('/sim/v1/accounts', { method: 'POST', body: { lines: ['iMessage'] } });
  const client = new LinqAPIV3({ apiKey: account.api_key, baseURL: account.base_url, maxRetries: 0 });
  return { account, client, key: account.api_key, line: account.lines[0].phone_number };
}

test('the agent answers hi with a greeting', async () => {
  const { client, key, line } = await testAccount();
  const phone = '+14155550123';
  const said = await harness(`/sim/v1/devices/${encodeURIComponent(phone)}/messages`, {
    method: 'POST', key, body: { to: line, text: 'hi' },
  });
  await harness('/sim/v1/settle', { method: 'POST', key, body: { max_seconds: 0 } });

  await agentReplies(client, said.chat_id, 'hi');

  const next = await harness(
    `/sim/v1/devices/${encodeURIComponent(phone)}/next-message?matching=Hello&timeout=5`, { key },
  );
  assert.equal(next.text, 'Hello from TypeScript!');
  await harness('/sim/v1/settle', { method: 'POST', key, body: {} });
  const screen = await harness(`/sim/v1/devices/${encodeURIComponent(phone)}/screen`, { key });
  assert.deepEqual(
    screen.messages.map((m) => [m.direction, m.parts[0].value, m.delivery_status]),
    [['sent', 'hi', 'received'], ['received', 'Hello from TypeScript!', 'delivered']],
  );
  const { messages } = await client.chats.messages.list(said.chat_id);
  assert.equal(messages.length, 2);
});

test('each test account is isolated', async () => {
  const first = await testAccount();
  const second = await testAccount();
  assert.notEqual(first.line, second.line);
  const own = await second.client.phoneNumbers.list();
  assert.deepEqual(own.phone_numbers.map((p) => p.phone_number), [second.line]);
});
