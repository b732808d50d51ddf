// The chaoskit agent protocol, for a command: the task arrives as JSON on stdin (and in
// CHAOSKIT_* environment variables); the reply goes to stdout as JSON with explicit claims.
import Stripe from "stripe";

export async function readTask() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text); // { message, principal, urls, credentials, budget }
}

export function reply(text, status, ref = null) {
  console.log(JSON.stringify({ reply: text, claims: [{ intent: "refund", status, ref }] }));
}

// The served payments fake speaks Stripe's API: point the official SDK at its base URL.
export function stripeFor(task, options = {}) {
  const base = new URL(task.urls.payments);
  return new Stripe(task.credentials.payments, {
    host: base.hostname,
    port: base.port,
    protocol: base.protocol.replace(":", ""),
    maxNetworkRetries: 0, // the agents decide about retries themselves
    timeout: Number(process.env.REFUND_TIMEOUT_MS ?? 2000),
    ...options,
  });
}

export async function theOrder(task) {
  const id = task.message.match(/\bord_[0-9A-Za-z]{14}\b/)?.[0];
  if (!id) return null;
  const response = await fetch(`${task.urls.crm}/v1/orders/${id}`, {
    headers: { Authorization: `Bearer ${task.credentials.crm}` },
  });
  return response.ok ? response.json() : null;
}

export function refundAmount(message, order) {
  return /\bhalf\b/i.test(message) ? Math.floor(order.amount / 2) : order.amount;
}

// Time is real for an agent in another process: keep waits short in a chaos run.
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const NO_ORDER = "I could not find that order. Could you send me its order number (ord_…)?";
