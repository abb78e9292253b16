//! The signal plumbing both services share: GLib's true-handled accumulator, the handlers of
//! `incoming` and `run` connected from Rust, and the arguments of the signals. `incoming` and
//! `run` themselves are registered and emitted as GLib's are (`ffi::register_incoming_signal`).

use std::ops::ControlFlow;

use glib::prelude::*;
use glib::subclass::SignalInvocationHint;

use crate::sys;

/// `g_signal_accumulator_true_handled`: the emission stops at the first handler returning TRUE.
pub(crate) fn true_handled(
    _hint: &SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> ControlFlow<glib::Value, glib::Value> {
    if handler_return.get::<bool>().unwrap_or(false) {
        ControlFlow::Break(handler_return.clone())
    } else {
        ControlFlow::Continue(handler_return.clone())
    }
}

/// Connects `f`, a handler of `incoming` or `run` (the signal `signal_id` of `instance`, a `B`),
/// from Rust: it gets the instance as an `S`, borrowed from the emission (the handler takes no
/// reference of its own, as a C handler would not: GLib's tests count them). Connected through
/// a closure of `sys`, not glib-rs's, which would convert each argument through a `GValue`.
pub(crate) fn connect_connection_handler<B, S>(
    instance: &S,
    signal_id: u32,
    f: impl Fn(&S, &gio::SocketConnection, Option<&glib::Object>) -> bool + Send + Sync + 'static,
) -> glib::SignalHandlerId
where
    B: IsA<glib::Object> + IsA<B>,
    S: IsA<B>,
{
    sys::connect_connection_handler(instance, signal_id, move |instance, connection, source| {
        instance
            .downcast_ref::<B>()
            .and_then(|instance| instance.downcast_ref::<S>())
            .is_some_and(|instance| f(instance, connection, source))
    })
}

/// The arguments of `accept-error`, emitted on a `B`.
pub(crate) fn accept_error_args<B>(args: &[glib::Value]) -> Option<(&B, &glib::Error)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((args[0].get::<&B>().ok()?, args[1].get().ok()?))
}

/// The arguments of `accept-certificate`, emitted on a `B`.
pub(crate) fn accept_certificate_args<B>(
    args: &[glib::Value],
) -> Option<(
    &B,
    &gio::TlsConnection,
    &gio::TlsCertificate,
    gio::TlsCertificateFlags,
)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
        args[3].get().ok()?,
    ))
}

/// The arguments of a signal emitted on a `B` about a connection and a `T`: `accept-credentials`
/// (`gio::Credentials`) and `select-certificate` (`ClientHello`).
pub(crate) fn connection_args<B, T>(
    args: &[glib::Value],
) -> Option<(&B, &gio::SocketConnection, &T)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
    for<'a> &'a T: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get::<&T>().ok()?,
    ))
}

/// The accumulator of a signal whose every handler must agree: the emission stops, refusing, at
/// the first handler that returns `false`.
pub(crate) fn all_agree(
    _hint: &SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> ControlFlow<glib::Value, glib::Value> {
    if handler_return.get::<bool>().unwrap_or(false) {
        ControlFlow::Continue(handler_return.clone())
    } else {
        ControlFlow::Break(handler_return.clone())
    }
}

/// The accumulator of a signal that returns an object or NULL: the emission stops at the first
/// handler that returns an object.
pub(crate) fn first_object(
    _hint: &SignalInvocationHint,
    _accumulated: glib::Value,
    handler_return: &glib::Value,
) -> ControlFlow<glib::Value, glib::Value> {
    if handler_return
        .get::<Option<glib::Object>>()
        .ok()
        .flatten()
        .is_some()
    {
        ControlFlow::Break(handler_return.clone())
    } else {
        ControlFlow::Continue(handler_return.clone())
    }
}
