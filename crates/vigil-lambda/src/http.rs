//! What the HTTP functions share: who is calling.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// The caller's identity (JWT `sub`) as API Gateway's authorizer passed it:
/// HTTP API (payload v2) `authorizer.jwt.claims.sub`, or REST API (payload v1)
/// with a Cognito user pool authorizer `authorizer.claims.sub`.
pub fn caller(request: &Request) -> Option<String> {
    let sub = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref()?.jwt.as_ref()?.claims.get("sub")?.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.authorizer.fields.get("claims")?.get("sub")?.as_str()?.to_owned(),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    (!sub.is_empty()).then_some(sub)
}
