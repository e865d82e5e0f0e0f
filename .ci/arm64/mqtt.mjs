// Publishes one message from this Node to a broker on the host, so run.sh can check with
// mosquitto_sub that the arm64 Node under qemu reaches the host's MQTT broker (as `edgesight run`
// will). The payload says who sent it.
//
//   node mqtt.mjs --port <p> --topic <t>
import { connectAsync } from 'mqtt';
import { readFileSync } from 'node:fs';
import { machine } from 'node:os';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { port: { type: 'string' }, topic: { type: 'string' } } });
if (!args.port || !args.topic) throw new Error('usage: node mqtt.mjs --port <p> --topic <t>');
const cpuPart = /CPU part\s*:\s*(\S+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? null;
const client = await connectAsync(`mqtt://127.0.0.1:${args.port}`, { connectTimeout: 30_000, reconnectPeriod: 0 });
await client.publishAsync(args.topic, JSON.stringify({ arch: process.arch, machine: machine(), qemuCpu: process.env.QEMU_CPU ?? null, cpuPart }), {
  qos: 1,
  retain: true,
});
await client.endAsync();
process.stdout.write(`  ok    mqtt: published to 127.0.0.1:${args.port} ${args.topic}\n`);
