//! The protobuf codec of the shopml services: prost's, with a `decode` and an `encode` span
//! around each message when traces are exported (see `crate::telemetry`). The generated
//! services use it (`build.rs`); with no trace layer listening the spans are never built.

use crate::rpc_span;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

pub struct TracedCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Default for TracedCodec<T, U> {
    fn default() -> Self {
        Self(ProstCodec::default())
    }
}

impl<T, U> Codec for TracedCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = Traced<ProstEncoder<T>>;
    type Decoder = Traced<ProstDecoder<U>>;

    fn encoder(&mut self) -> Self::Encoder {
        Traced(self.0.encoder())
    }

    fn decoder(&mut self) -> Self::Decoder {
        Traced(self.0.decoder())
    }
}

/// An encoder or decoder whose work is a span.
pub struct Traced<C>(C);

impl<E: Encoder> Encoder for Traced<E> {
    type Item = E::Item;
    type Error = E::Error;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        rpc_span!("encode").in_scope(|| self.0.encode(item, dst))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}

impl<D: Decoder> Decoder for Traced<D> {
    type Item = D::Item;
    type Error = D::Error;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        rpc_span!("decode").in_scope(|| self.0.decode(src))
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
