//! `#[derive(Encode, Decode)]` for `conclave-codec`.
//!
//! - Structs encode their fields in declaration order (RFC 8446 §3.6).
//! - Enums must carry `#[repr(u8)]`, `#[repr(u16)]` or `#[repr(u32)]` and an explicit
//!   discriminant on every variant. They encode as the discriminant followed by the variant's
//!   fields, which is how MLS writes `select (type) { case …: … }` (RFC 8446 §3.8). Decoding an
//!   unknown discriminant is an error; types that must carry unknown values (extension types,
//!   GREASE) implement the traits by hand instead.
//! - `Decode::skip` reads past a value field by field, each vector by its length prefix, so
//!   that counting a vector's elements before decoding them costs one pass over their
//!   top-level fields.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, Ident, parse_macro_input};

/// Derives `conclave_codec::Encode`.
#[proc_macro_derive(Encode)]
pub fn derive_encode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_encode(&input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// Derives `conclave_codec::Decode`.
#[proc_macro_derive(Decode)]
pub fn derive_decode(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_decode(&input)
        .unwrap_or_else(|e| e.to_compile_error())
        .into()
}

/// The `#[repr(..)]` integer type of an enum.
fn enum_repr(input: &DeriveInput) -> syn::Result<Ident> {
    for attr in &input.attrs {
        if attr.path().is_ident("repr") {
            let mut found = None;
            attr.parse_nested_meta(|meta| {
                for candidate in ["u8", "u16", "u32"] {
                    if meta.path.is_ident(candidate) {
                        found = Some(Ident::new(candidate, Span::call_site()));
                    }
                }
                Ok(())
            })?;
            if let Some(repr) = found {
                return Ok(repr);
            }
        }
    }
    Err(syn::Error::new_spanned(
        &input.ident,
        "enums deriving Encode/Decode need #[repr(u8)], #[repr(u16)] or #[repr(u32)]",
    ))
}

/// Names to bind the fields of a struct or variant to, and the pattern that binds them.
fn bindings(fields: &Fields) -> (Vec<Ident>, TokenStream2) {
    match fields {
        Fields::Named(named) => {
            let names: Vec<Ident> = named.named.iter().filter_map(|f| f.ident.clone()).collect();
            (names.clone(), quote! { { #(#names),* } })
        }
        Fields::Unnamed(unnamed) => {
            let names: Vec<Ident> = (0..unnamed.unnamed.len())
                .map(|i| format_ident!("field_{}", i))
                .collect();
            (names.clone(), quote! { ( #(#names),* ) })
        }
        Fields::Unit => (Vec::new(), quote! {}),
    }
}

fn expand_encode(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let (len_body, encode_body) = match &input.data {
        Data::Struct(data) => {
            let (names, pattern) = bindings(&data.fields);
            (
                quote! {
                    let Self #pattern = self;
                    0usize #( + ::conclave_codec::Encode::encoded_len(#names) )*
                },
                quote! {
                    let Self #pattern = self;
                    #( ::conclave_codec::Encode::encode(#names, out)?; )*
                    Ok(())
                },
            )
        }
        Data::Enum(data) => {
            let repr = enum_repr(input)?;
            let mut len_arms = Vec::new();
            let mut encode_arms = Vec::new();
            for variant in &data.variants {
                let vname = &variant.ident;
                let Some((_, discriminant)) = &variant.discriminant else {
                    return Err(syn::Error::new_spanned(
                        variant,
                        "every variant needs an explicit discriminant (`= value`)",
                    ));
                };
                let (names, pattern) = bindings(&variant.fields);
                len_arms.push(quote! {
                    Self::#vname #pattern => {
                        ::core::mem::size_of::<#repr>()
                            #( + ::conclave_codec::Encode::encoded_len(#names) )*
                    }
                });
                encode_arms.push(quote! {
                    Self::#vname #pattern => {
                        let tag: #repr = #discriminant;
                        ::conclave_codec::Encode::encode(&tag, out)?;
                        #( ::conclave_codec::Encode::encode(#names, out)?; )*
                    }
                });
            }
            (
                quote! { match self { #(#len_arms)* } },
                quote! {
                    match self { #(#encode_arms)* }
                    Ok(())
                },
            )
        }
        Data::Union(_) => {
            return Err(syn::Error::new_spanned(name, "unions cannot derive Encode"));
        }
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::conclave_codec::Encode for #name #ty_generics #where_clause {
            #[allow(unused_variables)]
            fn encoded_len(&self) -> usize {
                #len_body
            }
            #[allow(unused_variables)]
            fn encode(
                &self,
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::conclave_codec::CodecError> {
                #encode_body
            }
        }
    })
}

fn construct(path: TokenStream2, fields: &Fields) -> TokenStream2 {
    match fields {
        Fields::Named(named) => {
            let names = named.named.iter().filter_map(|f| f.ident.as_ref());
            quote! { #path { #( #names: ::conclave_codec::Decode::decode(reader)? ),* } }
        }
        Fields::Unnamed(unnamed) => {
            let values = unnamed
                .unnamed
                .iter()
                .map(|_| quote! { ::conclave_codec::Decode::decode(reader)? });
            quote! { #path ( #(#values),* ) }
        }
        Fields::Unit => path,
    }
}

/// Statements skipping `fields` in order (`Decode::skip` of each field's type).
fn skip_fields(fields: &Fields) -> TokenStream2 {
    let types = fields.iter().map(|f| &f.ty);
    quote! { #( <#types as ::conclave_codec::Decode>::skip(reader)?; )* }
}

fn expand_decode(input: &DeriveInput) -> syn::Result<TokenStream2> {
    let name = &input.ident;
    let name_str = name.to_string();
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let (body, skip_body) = match &input.data {
        Data::Struct(data) => {
            let value = construct(quote! { Self }, &data.fields);
            let skip = skip_fields(&data.fields);
            (quote! { Ok(#value) }, quote! { #skip Ok(()) })
        }
        Data::Enum(data) => {
            let repr = enum_repr(input)?;
            let mut arms = Vec::new();
            let mut skip_arms = Vec::new();
            for variant in &data.variants {
                let vname = &variant.ident;
                let Some((_, discriminant)) = &variant.discriminant else {
                    return Err(syn::Error::new_spanned(
                        variant,
                        "every variant needs an explicit discriminant (`= value`)",
                    ));
                };
                let value = construct(quote! { Self::#vname }, &variant.fields);
                arms.push(quote! {
                    if tag == { let d: #repr = #discriminant; d } {
                        return Ok(#value);
                    }
                });
                let skip = skip_fields(&variant.fields);
                skip_arms.push(quote! {
                    if tag == { let d: #repr = #discriminant; d } {
                        #skip
                        return Ok(());
                    }
                });
            }
            let unknown = quote! {
                Err(::conclave_codec::CodecError::InvalidValue {
                    what: #name_str,
                    value: u64::from(tag),
                })
            };
            (
                quote! {
                    let tag: #repr = ::conclave_codec::Decode::decode(reader)?;
                    #(#arms)*
                    #unknown
                },
                quote! {
                    let tag: #repr = ::conclave_codec::Decode::decode(reader)?;
                    #(#skip_arms)*
                    #unknown
                },
            )
        }
        Data::Union(_) => {
            return Err(syn::Error::new_spanned(name, "unions cannot derive Decode"));
        }
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics ::conclave_codec::Decode for #name #ty_generics #where_clause {
            fn decode(
                reader: &mut ::conclave_codec::Reader<'_>,
            ) -> ::core::result::Result<Self, ::conclave_codec::CodecError> {
                #body
            }
            fn skip(
                reader: &mut ::conclave_codec::Reader<'_>,
            ) -> ::core::result::Result<(), ::conclave_codec::CodecError> {
                #skip_body
            }
        }
    })
}
