// Test-only driver: @slack/rtm-api, unchanged, against the slack-rtm emulator.
// Usage: node rtm_client.js API_URL CHANNEL_ID   (the bot token comes from SLACK_BOT_TOKEN)
// Prints one JSON object per line: {"step": "ready"}, {"step": "message", "event": ...},
// {"step": "ack", "reply": ...}; exits 0 when done, 1 on any error or after 15 s.
'use strict';
const { RTMClient, LogLevel } = require('@slack/rtm-api');

const [apiUrl, channel] = process.argv.slice(2);
const token = process.env.SLACK_BOT_TOKEN;
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

const rtm = new RTMClient(token, {
  slackApiUrl: apiUrl.endsWith('/') ? apiUrl : apiUrl + '/',
  autoReconnect: false,
  logLevel: LogLevel.ERROR,
});

const timer = setTimeout(() => { say({ step: 'timeout' }); process.exit(1); }, 15000);

rtm.on('ready', () => say({ step: 'ready' }));
rtm.on('message', async (event) => {
  say({ step: 'message', event });
  try {
    const reply = await rtm.sendMessage('hello from node', channel);
    say({ step: 'ack', reply });
    // Exit without rtm.disconnect(): in @slack/rtm-api 7.0.4 it throws from its state machine
    // ("Cannot read properties of undefined (reading 'cancel')"), a client bug.
    clearTimeout(timer);
    process.exit(0);
  } catch (err) {
    say({ step: 'error', error: String(err) });
    process.exit(1);
  }
});

rtm.start().catch((err) => { say({ step: 'error', error: String(err) }); process.exit(1); });
