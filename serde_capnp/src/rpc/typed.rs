//! Run-time support for the code the [`interface`](super::interface) attribute macro
//! generates. Nothing here is meant to be used by hand, and none of it is a stable API.
//!
//! The macro embeds the compiled schema, as `#[derive(Capnp)]` does, and names methods by
//! interface ID and ordinal, which it checked at compile time. Parameters and results travel
//! as [`Fields`]: a tuple of the Rust values with the names of the struct's fields, so that
//! the generated code needs neither serde's derive nor a struct per method.

use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use super::cap::Capability;
use super::client::{call as raw_call, stream as raw_stream, Pending, Response};
use super::interface::{InterfaceSchema, MethodSchema};
use super::server::Server;
use crate::__private::Embedded;
use crate::{Error, Result, Schema};

pub use serde;
pub use std::rc::Rc;

/// The interface a trait is bound to, loaded from the embedded schema on first use.
pub struct TypedInterface {
    embedded: Embedded,
    id: u64,
    cell: OnceLock<std::result::Result<InterfaceSchema, String>>,
}

impl TypedInterface {
    /// The interface `id` of the schema `embedded` holds.
    pub const fn new(embedded: Embedded, id: u64) -> Self {
        TypedInterface {
            embedded,
            id,
            cell: OnceLock::new(),
        }
    }

    /// The interface. It fails only when the `serde_capnp` linked is another version than
    /// the macro's, and then on every call.
    pub fn get(&'static self) -> Result<&'static InterfaceSchema> {
        let loaded = self.cell.get_or_init(|| {
            self.embedded
                .schema()
                .and_then(|s| s.interface_by_id(self.id))
                .map_err(|e| e.message().to_string())
        });
        match loaded {
            Ok(i) => Ok(i),
            Err(message) => Err(Error::schema(message.clone())),
        }
    }

    /// The method declared by `interface_id` (this interface or a superclass) at `ordinal`.
    pub fn method(&'static self, interface_id: u64, ordinal: u16) -> Result<&'static MethodSchema> {
        let interface = self.get()?;
        match interface.by_ordinal(interface_id, ordinal) {
            Some(i) => Ok(interface.method_at(i)),
            None => Err(Error::schema(format!(
                "interface `{}` has no method @{ordinal} of interface {interface_id:#x}",
                interface.name()
            ))),
        }
    }
}

/// A method that stands in for one that could not be found, so that a failed call is a
/// [`Pending`] like any other.
fn placeholder() -> &'static MethodSchema {
    static PLACEHOLDER: OnceLock<MethodSchema> = OnceLock::new();
    PLACEHOLDER.get_or_init(|| {
        let schema = Schema::parse(
            "placeholder.capnp",
            "@0xa3c1e5f7092b4d61;\nstruct Empty @0xa3c1e5f7092b4d62 {}\n",
        )
        .expect("the built-in placeholder schema compiles");
        let empty = schema
            .struct_by_id(0xa3c1_e5f7_092b_4d62)
            .expect("the placeholder schema holds `Empty`");
        MethodSchema::new(super::interface::MethodParts {
            interface_id: 0,
            interface_name: "?".into(),
            ordinal: 0,
            name: "?".into(),
            params: empty.clone(),
            results: empty,
            streaming: false,
        })
    })
}

/// Calls the method at (`interface_id`, `ordinal`) of `interface` on `capability`.
pub fn call<P: Serialize, T>(
    interface: &'static TypedInterface,
    capability: &Capability,
    interface_id: u64,
    ordinal: u16,
    params: &P,
    convert: fn(Response) -> Result<T>,
) -> Pending<T> {
    match interface.method(interface_id, ordinal) {
        Ok(method) => raw_call(capability, method, params, convert),
        Err(e) => raw_call(
            &Capability::broken(e),
            placeholder(),
            &Fields::<NoFields, ()>::new(()),
            convert,
        ),
    }
}

/// Calls the `-> stream` method at (`interface_id`, `ordinal`) of `interface`.
pub async fn stream<P: Serialize + 'static>(
    interface: &'static TypedInterface,
    capability: Capability,
    interface_id: u64,
    ordinal: u16,
    params: P,
) -> Result<()> {
    let method = interface.method(interface_id, ordinal)?;
    raw_stream(&capability, method, &params).await
}

/// The capability of a server of `interface` whose handlers `register` adds; a capability
/// whose calls fail with the reason when that fails.
pub fn serve(
    interface: &'static TypedInterface,
    register: impl FnOnce(Server) -> Result<Server>,
) -> Capability {
    match interface.get().and_then(|i| register(Server::new(i))) {
        Ok(server) => server.into_capability(),
        Err(e) => Capability::broken(e),
    }
}

/// The names of a parameter or result struct's fields, in the order of the tuple that
/// [`Fields`] holds.
pub trait FieldNames {
    /// The struct's name, for messages.
    const STRUCT: &'static str;
    /// The fields' names, as the runtime matches them against the schema.
    const NAMES: &'static [&'static str];
}

/// No fields: the results of a method with none.
pub enum NoFields {}

impl FieldNames for NoFields {
    const STRUCT: &'static str = "Empty";
    const NAMES: &'static [&'static str] = &[];
}

/// A struct's fields as a tuple, named by `N`: what the generated code sends and receives.
pub struct Fields<N, T> {
    /// The values, one per name.
    pub values: T,
    names: PhantomData<fn() -> N>,
}

impl<N, T> Fields<N, T> {
    /// Names `values`.
    pub fn new(values: T) -> Self {
        Fields {
            values,
            names: PhantomData,
        }
    }
}

/// Which of the names a key is; `usize::MAX` for none (a field the Rust side leaves out).
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<usize, E> {
        Ok(self.0.iter().position(|n| *n == v).unwrap_or(usize::MAX))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<usize, E> {
        Ok(usize::try_from(v)
            .ok()
            .filter(|&i| i < self.0.len())
            .unwrap_or(usize::MAX))
    }
}

/// What a field absent from the message reads as: `None` for an `Option`, an error for
/// anything else (as serde's derive does).
struct Missing(&'static str);

impl<'de> Deserializer<'de> for Missing {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
        Err(de::Error::missing_field(self.0))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

fn missing<'de, T: Deserialize<'de>, E: de::Error>(
    name: &'static str,
) -> std::result::Result<T, E> {
    T::deserialize(Missing(name)).map_err(|e| E::custom(e.message()))
}

struct FieldsVisitor<N, T>(PhantomData<fn() -> (N, T)>);

macro_rules! fields_impl {
    ($($i:tt $t:ident $v:ident)*) => {
        impl<N: FieldNames, $($t: Serialize),*> Serialize for Fields<N, ($($t,)*)> {
            fn serialize<Ser: Serializer>(&self, s: Ser) -> std::result::Result<Ser::Ok, Ser::Error> {
                #[allow(unused_mut)]
                let mut st = s.serialize_struct(N::STRUCT, N::NAMES.len())?;
                $(st.serialize_field(N::NAMES[$i], &self.values.$i)?;)*
                st.end()
            }
        }

        impl<'de, N: FieldNames, $($t: Deserialize<'de>),*> Visitor<'de>
            for FieldsVisitor<N, ($($t,)*)>
        {
            type Value = Fields<N, ($($t,)*)>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the struct `{}`", N::STRUCT)
            }

            #[allow(unused_mut)]
            fn visit_map<Map: MapAccess<'de>>(
                self,
                mut map: Map,
            ) -> std::result::Result<Self::Value, Map::Error> {
                $(let mut $v: Option<$t> = None;)*
                while let Some(key) = map.next_key_seed(Key(N::NAMES))? {
                    match key {
                        $($i => $v = Some(map.next_value()?),)*
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Fields::new(($(
                    match $v {
                        Some(v) => v,
                        None => missing(N::NAMES[$i])?,
                    },
                )*)))
            }
        }

        impl<'de, N: FieldNames, $($t: Deserialize<'de>),*> Deserialize<'de>
            for Fields<N, ($($t,)*)>
        {
            fn deserialize<De: Deserializer<'de>>(d: De) -> std::result::Result<Self, De::Error> {
                d.deserialize_struct(N::STRUCT, N::NAMES, FieldsVisitor::<N, ($($t,)*)>(PhantomData))
            }
        }
    };
}

fields_impl!();
fields_impl!(0 T0 v0);
fields_impl!(0 T0 v0 1 T1 v1);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5 6 T6 v6);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5 6 T6 v6 7 T7 v7);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5 6 T6 v6 7 T7 v7 8 T8 v8);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5 6 T6 v6 7 T7 v7 8 T8 v8 9 T9 v9);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5 6 T6 v6 7 T7 v7 8 T8 v8 9 T9 v9 10 T10 v10);
fields_impl!(0 T0 v0 1 T1 v1 2 T2 v2 3 T3 v3 4 T4 v4 5 T5 v5 6 T6 v6 7 T7 v7 8 T8 v8 9 T9 v9 10 T10 v10 11 T11 v11);

/// The most parameters a method of a trait bound by the macro may take.
pub const MAX_FIELDS: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;

    enum Pair {}
    impl FieldNames for Pair {
        const STRUCT: &'static str = "Pair";
        const NAMES: &'static [&'static str] = &["paramCount", "label"];
    }

    #[test]
    fn fields_round_trip_through_a_schema() {
        let schema = Schema::parse(
            "pair.capnp",
            "@0xb5d0c9e1f2a3b4c5;\nstruct Pair { paramCount @0 :Int32; label @1 :Text; extra @2 :UInt8; }\n",
        )
        .unwrap();
        let pair = schema.struct_type("Pair").unwrap();
        let bytes = pair
            .to_vec(&Fields::<Pair, _>::new((3i32, Some("x".to_string()))))
            .unwrap();
        let back: Fields<Pair, (i32, Option<String>)> = pair.from_slice(&bytes).unwrap();
        assert_eq!(back.values, (3, Some("x".to_string())));
        let bytes = pair
            .to_vec(&Fields::<Pair, _>::new((5i32, None::<String>)))
            .unwrap();
        let back: Fields<Pair, (i32, Option<String>)> = pair.from_slice(&bytes).unwrap();
        assert_eq!(back.values, (5, None));
    }
}
