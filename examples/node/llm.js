// An LLM support agent on the official openai and stripe npm packages: a tool loop that asks
// the model, runs the tools it calls, and sends the results back until it answers in text.
// The openai client reads OPENAI_BASE_URL and OPENAI_API_KEY, which chaoskit sets to its
// served fake model: the SDK is configured exactly as in production.
import OpenAI from "openai";
import { readTask, reply, stripeFor } from "./task.js";

const SYSTEM = "You are the support agent of an online shop. Look orders up with get_order " +
  "before acting on them, refund with refund (amounts in cents), and tell the customer what " +
  "you did.";

const TOOLS = [
  tool("get_order", "Look an order up by its id (ord_…).", { order_id: { type: "string" } }),
  tool("refund", "Refund `amount` cents of a charge (ch_…), as shown on the order.", {
    charge: { type: "string" },
    amount: { type: "integer" },
  }),
];

function tool(name, description, properties) {
  const parameters = { type: "object", properties, required: Object.keys(properties) };
  return { type: "function", function: { name, description, parameters } };
}

// naive: runs whatever the model returns, as often as it returns it, and repeats its claim.
// hardened: keys every refund by its intent (a repeated refund is replayed, not made twice),
// runs identical calls of one turn once, caps model calls, and reports what the refund tool
// returned rather than what the model says.
export async function supportAgent({ hardened }) {
  const task = await readTask();
  const model = new OpenAI({ maxRetries: 2 }); // the SDK's own retries absorb 429s
  const stripe = stripeFor(task);
  const messages = [{ role: "system", content: SYSTEM }, { role: "user", content: task.message }];
  let refunded = null;
  let failed = null;
  for (let asked = 0; !hardened || asked < 6; asked++) {
    let completion;
    try {
      completion = await model.chat.completions.create({
        model: "gpt-4o-mini", messages, tools: TOOLS,
      });
    } catch (error) {
      if (!hardened || !(error instanceof OpenAI.APIError)) throw error;
      failed = `the assistant is not answering (${error.status ?? error.message})`;
      break; // what was refunded so far is reported below, as the refund tool returned it
    }
    const message = completion.choices[0].message;
    messages.push(message);
    if (!message.tool_calls?.length) {
      if (!hardened) return reply(message.content ?? "", refunded ? "done" : "failed", refunded);
      break;
    }
    const done = new Map();
    for (const call of message.tool_calls) {
      const same = `${call.function.name} ${call.function.arguments}`;
      if (hardened && done.has(same)) {
        messages.push({ role: "tool", tool_call_id: call.id, content: done.get(same) });
        continue;
      }
      let content;
      try {
        const args = JSON.parse(call.function.arguments);
        const result = await run(task, stripe, call.function.name, args, hardened);
        if (call.function.name === "refund") refunded = result.id;
        content = JSON.stringify(result);
      } catch (error) {
        if (call.function.name === "refund") failed = error.message;
        content = `error: ${error.message}`;
      }
      done.set(same, content);
      messages.push({ role: "tool", tool_call_id: call.id, content });
    }
  }
  if (refunded) return reply(`Refund ${refunded} submitted.`, "done", refunded);
  return reply(`Sorry, I could not make the refund${failed ? `: ${failed}` : ""}.`, "failed");
}

async function run(task, stripe, name, args, hardened) {
  if (name === "get_order") {
    const response = await fetch(`${task.urls.crm}/v1/orders/${args.order_id}`, {
      headers: { Authorization: `Bearer ${task.credentials.crm}` },
    });
    if (!response.ok) throw new Error(`no order ${args.order_id} (${response.status})`);
    return response.json();
  }
  if (name === "refund") {
    const params = { charge: args.charge, amount: args.amount };
    const options = hardened ? { idempotencyKey: `refund-${args.charge}-${args.amount}` } : {};
    return stripe.refunds.create(params, options);
  }
  throw new Error(`unknown tool ${name}`);
}
