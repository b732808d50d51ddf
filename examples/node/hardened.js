// Hardened: one idempotency key per intent (charge and amount), so a retry of a refund that
// did commit is answered with that refund; bounded backoff honouring Retry-After; and an
// honest reply when the outcome is unknown.
import Stripe from "stripe";
import { NO_ORDER, readTask, refundAmount, reply, sleep, stripeFor, theOrder } from "./task.js";

const RETRYABLE = [Stripe.errors.StripeConnectionError, Stripe.errors.StripeRateLimitError,
  Stripe.errors.StripeAPIError];

const task = await readTask();
const order = await theOrder(task);
if (!order) {
  reply(NO_ORDER, "failed");
} else {
  const stripe = stripeFor(task);
  const params = { charge: order.charge_id, amount: refundAmount(task.message, order) };
  const idempotencyKey = `refund-${params.charge}-${params.amount}`;
  let uncertain = false;
  let answered = false;
  for (let attempt = 0; attempt < 3 && !answered; attempt++) {
    try {
      const made = await stripe.refunds.create(params, { idempotencyKey });
      reply(`Refund ${made.id} submitted.`, "done", made.id);
      answered = true;
    } catch (error) {
      if (!RETRYABLE.some((kind) => error instanceof kind)) {
        reply(`Sorry, the refund was refused: ${error.message}`, "failed");
        answered = true;
      } else {
        uncertain ||= error instanceof Stripe.errors.StripeConnectionError;
        const retryAfter = Number(error.headers?.["retry-after"] ?? 0) * 1000;
        await sleep(Math.min(Math.max(retryAfter, 50 * 2 ** attempt), 1000));
      }
    }
  }
  if (!answered && uncertain) {
    reply("I could not confirm the refund: the payment service stopped answering, and it may " +
      "have gone through. I have passed it to a colleague to check.", "escalated");
  } else if (!answered) {
    reply("Sorry, the payment service is failing; no refund was made.", "failed");
  }
}
