//! The OpenAPI document, generated from the handler annotations and wire types.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "text2sql", description = "TGI-compatible multi-LoRA Text-to-SQL inference server"),
    paths(
        crate::routes::native::generate,
        crate::routes::native::generate_stream,
        crate::routes::native::compat_generate,
        crate::routes::native::tokenize,
        crate::routes::openai::chat_completions,
        crate::routes::openai::completions,
        crate::routes::openai::models,
        crate::routes::info::info,
        crate::routes::info::health,
        crate::routes::info::metrics,
    ),
    components(schemas(
        crate::api::GenerateRequest,
        crate::api::GenerateParameters,
        crate::api::CompatGenerateRequest,
        crate::api::StreamResponse,
        crate::api::StreamDetails,
        crate::api::Info,
        crate::api::SimpleToken,
        crate::error::ErrorResponse,
        crate::routes::openai::ChatRequest,
        crate::routes::openai::CompletionRequest,
        crate::chat::Message,
    ))
)]
struct ApiDoc;

/// The OpenAPI 3 document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
