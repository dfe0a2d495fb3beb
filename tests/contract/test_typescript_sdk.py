"""The official TypeScript SDK (@linqapp/sdk), unmodified, against the real server.

Installed from the npm registry with Node's own npm; configured only by
LINQ_API_V3_BASE_URL and LINQ_API_V3_API_KEY, as the README says. Blocked handles are
newer than the SDK's latest release (0.28.2 has no ``blockedHandles`` resource): they go
through the client's own ``get`` / ``post`` / ``delete``, with its auth and errors.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.support.server import RunningServer
from tests.support.tenant import Tenant

SCRIPT = """
const LinqAPIV3 = require('@linqapp/sdk').default;
(async () => {
  const client = new LinqAPIV3({ maxRetries: 0 });
  const lines = (await client.phoneNumbers.list()).phone_numbers;
  const created = await client.chats.create({
    from: lines[0].phone_number,
    to: [process.argv[2]],
    message: { parts: [{ type: 'text', value: 'hello from TypeScript' }] },
  });
  // @linqapp/sdk 0.28.2 (the newest on npm) has no polls resource yet: its generic
  // request methods carry the same auth, base URL and error handling.
  const poll = await client.post(`/v3/chats/${created.chat.id}/polls`, {
    body: { poll: { options: [{ text: 'Yes' }, { text: 'No' }] } },
  });
  const results = await client.get(`/v3/messages/${poll.message_id}/poll`);
  const messages = [];
  for await (const message of client.chats.messages.list(created.chat.id)) messages.push(message);
  const failure = async (call) => {
    try {
      await call();
      return null;
    } catch (e) {
      return { status: e.status, code: e.error && e.error.error ? e.error.error.code : null };
    }
  };
  const error = await failure(() => client.chats.retrieve('00000000-0000-0000-0000-000000000000'));
  const handle = process.argv[2];
  const block = await client.post('/v3/blocked_handles', { body: { handle, reason: 'abuse' } });
  const blocked = (await client.get('/v3/blocked_handles')).blocked_handles;
  const refused = await failure(() => client.chats.messages.send(created.chat.id, {
    message: { parts: [{ type: 'text', value: 'still there?' }] },
  }));
  await client.delete('/v3/blocked_handles', { body: { handle } });
  const unblocked = (await client.get('/v3/blocked_handles')).blocked_handles;
  console.log(JSON.stringify({
    lines: lines.length,
    chat: created.chat.id,
    status: created.chat.message.delivery_status,
    texts: messages.filter((m) => m.parts.length).map((m) => m.parts[0].value),
    poll: {
      id: poll.message_id,
      options: results.poll.options.map((o) => o.text),
      voters: results.poll.total_voters,
      listed: messages.some((m) => m.id === poll.message_id),
    },
    error,
    block: block.blocked_handle,
    blocked: blocked.map((e) => e.handle),
    refused,
    unblocked: unblocked.length,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_the_typescript_sdk_works_unmodified(
    sdk_dir: Path, server: RunningServer, tenant: Tenant
) -> None:
    (sdk_dir / "smoke.js").write_text(SCRIPT)
    env = {
        **os.environ,
        "LINQ_API_V3_BASE_URL": server.sdk_base_url,
        "LINQ_API_V3_API_KEY": tenant.api_key,
        "NODE_PATH": str(sdk_dir / "node_modules"),
    }
    result = subprocess.run(
        ["node", str(sdk_dir / "smoke.js"), "+14155559901"],
        env=env,
        cwd=sdk_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["lines"] == len(tenant.lines)
    assert outcome["status"] == "queued"
    assert outcome["texts"] == ["hello from TypeScript"]
    poll = outcome["poll"]
    assert (poll["options"], poll["voters"], poll["listed"]) == (["Yes", "No"], 0, True)
    assert tenant.client.messages.poll.retrieve(poll["id"]).chat_id == outcome["chat"]
    assert outcome["error"] == {"status": 404, "code": 2001}
    assert outcome["block"]["handle"] == "+14155559901"
    assert outcome["block"]["reason"] == "abuse"
    assert outcome["blocked"] == ["+14155559901"]
    assert outcome["refused"] == {"status": 403, "code": 2026}
    assert outcome["unblocked"] == 0
    assert tenant.client.chats.retrieve(outcome["chat"]).id == outcome["chat"]
