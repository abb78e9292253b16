//! The signal plumbing both services share: GLib's true-handled accumulator, the handlers of
//! `incoming` and `run` connected from Rust, and the arguments of the signals. `incoming` and
//! `run` themselves are registered and emitted as GLib's are (`ffi::register_incoming_signal`).

use std::ops::ControlFlow;

use glib::prelude::*;
use glib::subclass::SignalInvocationHint;

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

/// The closure of a handler of `incoming` or `run` (a signal of `B`) connected from Rust, which
/// calls `f` with the signal's arguments, the instance as an `S`. Borrowed from the emission: the
/// handler takes no reference of its own, as a C handler would not (GLib's tests count them).
pub(crate) fn connection_handler<B, S>(
    f: impl Fn(&S, &gio::SocketConnection, Option<&glib::Object>) -> bool,
) -> impl Fn(&[glib::Value]) -> Option<glib::Value>
where
    B: IsA<B>,
    S: IsA<B>,
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    move |args| {
        let handled = connection_args::<B>(args).is_some_and(|(instance, connection, source)| {
            instance
                .downcast_ref::<S>()
                .is_some_and(|instance| f(instance, connection, source))
        });
        Some(handled.to_value())
    }
}

/// The arguments of a signal shaped like `incoming`, emitted on a `B`.
fn connection_args<B>(
    args: &[glib::Value],
) -> Option<(&B, &gio::SocketConnection, Option<&glib::Object>)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
    ))
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

/// The arguments of `accept-credentials`, emitted on a `B`.
pub(crate) fn accept_credentials_args<B>(
    args: &[glib::Value],
) -> Option<(&B, &gio::SocketConnection, &gio::Credentials)>
where
    for<'a> &'a B: glib::value::FromValue<'a>,
{
    Some((
        args[0].get::<&B>().ok()?,
        args[1].get().ok()?,
        args[2].get().ok()?,
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
