//! Scenario mode: a plausible stream of landlord/tenant activity, one event
//! per interval, emitted through the same operations as REST and control.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::App;
use crate::db::SEED_PROPERTIES;
use crate::error::OpError;
use crate::{LANDLORD, TENANT};

const TENANT_LINES: [&str; 8] = [
    "Hi! Is the flat still available for next month?",
    "Could we move the viewing to Thursday evening?",
    "The heating in the bedroom makes a clicking noise again.",
    "Thanks for fixing the tap so quickly!",
    "Is it OK if I pay the deposit by bank transfer on Monday?",
    "Do you allow a small cat in the apartment?",
    "The key for the bike shed does not seem to work.",
    "I'll be away for two weeks in August, just so you know.",
];

const LANDLORD_LINES: [&str; 7] = [
    "Yes, it's available from the 1st. Want to book a viewing?",
    "Thursday at 7pm works for me.",
    "A plumber will come by tomorrow between 9 and 11.",
    "Deposit by transfer is fine, the details are in the contract.",
    "Small pets are fine, please keep the balcony door closed.",
    "I'll drop a spare key in your mailbox tonight.",
    "Reminder: the building's water is off on Saturday morning.",
];

const PROBLEMS: [&str; 6] = [
    "Leaking kitchen tap",
    "Heating not working in the bedroom",
    "Broken window latch",
    "Washing machine drains slowly",
    "Smoke detector beeping",
    "Front door lock sticks",
];

const REVIEWS: [&str; 5] = [
    "Great location and a very responsive landlord.",
    "Cosy place, a bit noisy at night.",
    "Everything as described, would stay again.",
    "Clean and bright, the heating could be better.",
    "Lovely garden, check-in was easy.",
];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Emits one random event.
async fn one_event(app: &App, rng: &mut StdRng) -> Result<(), OpError> {
    let landlord = app.user_named(LANDLORD.0).await?;
    let tenant = app.user_named(TENANT.0).await?;
    let property = SEED_PROPERTIES[rng.random_range(0..SEED_PROPERTIES.len())].0;
    match rng.random_range(0..100u32) {
        0..=17 => {
            app.request_booking(tenant, Some(property)).await?;
        }
        18..=35 => {
            let text = pick(rng, &TENANT_LINES).to_owned();
            app.send_message(tenant, landlord.id, text, Some(property))
                .await?;
        }
        36..=51 => {
            let text = pick(rng, &LANDLORD_LINES).to_owned();
            app.send_message(landlord, tenant.id, text, Some(property))
                .await?;
        }
        52..=61 => {
            let what = pick(rng, &PROBLEMS).to_owned();
            app.maintenance_request(tenant, property, what).await?;
        }
        62..=71 => {
            app.maintenance_progress().await?;
        }
        72..=79 => {
            let rating = rng.random_range(3..=5i64);
            let comment = pick(rng, &REVIEWS).to_owned();
            app.review(tenant, property, rating, comment).await?;
        }
        80..=87 => {
            app.favourite(tenant, property).await?;
        }
        _ => {
            let status = if rng.random_bool(0.8) {
                "approved"
            } else {
                "declined"
            };
            if app.decide_oldest_pending(status).await?.is_none() {
                app.request_booking(tenant, Some(property)).await?;
            }
        }
    }
    Ok(())
}

/// Runs forever (until the task is aborted), one event per `every`.
pub async fn run(app: Arc<App>, every: Duration) {
    let mut rng = StdRng::from_os_rng();
    let every = every.max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = one_event(&app, &mut rng).await {
            tracing::warn!(error = %e, "scenario event failed");
        }
    }
}
