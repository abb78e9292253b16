//! The scale workload: connections held open in steps, up to 18,000, and at each step what the
//! server spent per accept and holds per connection; in two modes, the handler keeping the
//! connection only (the service's own work) or starting a read on it (an application's).

use crate::clients::{Clients, hold};
use crate::server::Server;
use crate::workload::{SCALE_STEP, SCALE_STEPS, SCALE_WARM_UP};

/// What one step measured.
#[derive(Clone, Copy)]
pub struct Step {
    /// The server's CPU time per connection accepted in this step, in seconds: all its threads
    /// but the one that answers the benchmark.
    pub cpu_per_accept: f64,
    /// The growth of its resident memory since the warm-up, per connection held now, in bytes.
    pub memory_per_connection: f64,
}

/// Holds [`SCALE_WARM_UP`] connections, then [`SCALE_STEPS`] steps of [`SCALE_STEP`] more, all
/// kept open to the end; what each step measured.
pub fn scale(server: &mut Server) -> Vec<Step> {
    let mut held: Vec<Clients> = vec![hold(server, SCALE_WARM_UP)];
    let before = server.resident_memory();
    let mut steps = Vec::with_capacity(SCALE_STEPS);
    for step in 1..=SCALE_STEPS {
        let cpu = server.cpu_time();
        held.push(hold(server, SCALE_STEP));
        let cpu = server.cpu_time() - cpu;
        let memory = server.resident_memory() as f64 - before as f64;
        steps.push(Step {
            cpu_per_accept: cpu / SCALE_STEP as f64,
            memory_per_connection: memory / (step * SCALE_STEP) as f64,
        });
    }
    steps
}
