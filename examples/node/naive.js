// Naive: retries a timed-out refund with a fresh idempotency key each time. When the first
// attempt had committed, the customer is refunded twice.
import { randomUUID } from "node:crypto";
import Stripe from "stripe";
import { NO_ORDER, readTask, refundAmount, reply, sleep, stripeFor, theOrder } from "./task.js";

const task = await readTask();
const order = await theOrder(task);
if (!order) {
  reply(NO_ORDER, "failed");
} else {
  const stripe = stripeFor(task);
  const params = { charge: order.charge_id, amount: refundAmount(task.message, order) };
  let done = false;
  for (let attempt = 0; attempt < 3 && !done; attempt++) {
    try {
      const made = await stripe.refunds.create(params, { idempotencyKey: randomUUID() });
      reply(`Refund ${made.id} submitted.`, "done", made.id);
      done = true;
    } catch (error) {
      if (!(error instanceof Stripe.errors.StripeConnectionError)) {
        reply(`Sorry, the refund failed: ${error.message}`, "failed");
        done = true;
      } else {
        await sleep(50 * 2 ** attempt); // "it timed out, so it did not happen": try again
      }
    }
  }
  if (!done) reply("Sorry, the payment service is not answering.", "failed");
}
