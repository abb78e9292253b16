//! The nick and blurb of GLib's own properties, which the services' properties of the same name
//! copy from the GLib they run on.

use glib::prelude::*;

/// GLib's own `property` of `type_` (`gio::SocketService`'s `active`, say).
pub(crate) fn glib_property(type_: glib::Type, property: &str) -> glib::ParamSpec {
    glib::object::ObjectClass::from_type(type_)
        .and_then(|class| class.find_property(property))
        .unwrap_or_else(|| panic!("GLib's {type_} has no property {property}"))
}

/// Gives a property the nick and blurb GLib gives its own: they changed between versions
/// (GLib 2.79 dropped them, so the nick reads as the name and the blurb is `None`), and a
/// property that stands for GLib's reads as it does on the GLib in use.
pub(crate) trait DescribedAsGlibs<'a>: ParamSpecBuilderExt<'a> {
    fn described_as(mut self, glibs: &'a glib::ParamSpec) -> Self {
        self.set_nick(Some(glibs.nick()));
        self.set_blurb(glibs.blurb());
        self
    }
}

impl<'a, B: ParamSpecBuilderExt<'a>> DescribedAsGlibs<'a> for B {}
