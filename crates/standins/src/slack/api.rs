//! The stand-in's Web API methods: argument parsing (query, form, JSON), token checks, faults,
//! and chat.postMessage / chat.update / chat.postEphemeral / conversations.list / auth.test /
//! oauth.v2.access with Slack's envelope and error codes.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::{
    ChannelInfo, Fault, Message, Shared, State, TokenState, BOT_ID, BOT_USER_ID, CLIENT_ID,
    CLIENT_SECRET, TEAM_ID, TEAM_NAME,
};

type Answer = Result<Value, Value>;

fn err(code: &str) -> Value {
    json!({ "ok": false, "error": code })
}

/// Query string, then a form or JSON body, merged into one argument map.
fn arguments(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(Map<String, Value>, bool), Value> {
    let mut args = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        args.insert(k.into_owned(), Value::String(v.into_owned()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_json = content_type.starts_with("application/json");
    if is_json {
        let parsed: Value = serde_json::from_slice(body).map_err(|_| err("invalid_json"))?;
        let Value::Object(obj) = parsed else {
            return Err(err("json_not_object"));
        };
        args.extend(obj);
    } else if !body.is_empty() {
        if !content_type.is_empty()
            && !content_type.starts_with("application/x-www-form-urlencoded")
        {
            return Err(err("invalid_post_type"));
        }
        for (k, v) in url::form_urlencoded::parse(body) {
            args.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    Ok((args, is_json))
}

/// The token: `Authorization: Bearer` first, then a `token` argument (never from a JSON body).
fn token(headers: &HeaderMap, args: &Map<String, Value>, is_json: bool) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    bearer.or_else(|| {
        if is_json {
            None
        } else {
            args.get("token")
                .and_then(Value::as_str)
                .map(str::to_string)
        }
    })
}

fn check_token(state: &State, token: Option<String>) -> Result<(), Value> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| err("not_authed"))?;
    match state.tokens.get(&token) {
        Some(TokenState::Valid) => Ok(()),
        Some(TokenState::Revoked) => Err(err("token_revoked")),
        Some(TokenState::Inactive) => Err(err("account_inactive")),
        None => Err(err("invalid_auth")),
    }
}

pub(crate) async fn handle(
    AxState(shared): AxState<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let fault = {
        let mut s = shared.lock().expect("stand-in state");
        s.calls.push(method.clone());
        s.faults.get_mut(&method).and_then(|q| q.pop_front())
    };
    let mut delay = None;
    match fault {
        Some(Fault::Error(code)) => return Json(err(&code)).into_response(),
        Some(Fault::MissingScope(needed)) => return Json(json!({ "ok": false, "error": "missing_scope", "needed": needed, "provided": "channels:read" })).into_response(),
        Some(Fault::RateLimited { retry_after_secs }) => {
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, retry_after_secs.to_string())], Json(err("ratelimited"))).into_response();
        }
        Some(Fault::Http(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, [(header::CONTENT_TYPE, "text/html")], "<html><body>Service Unavailable</body></html>").into_response();
        }
        Some(Fault::Delay(d)) => delay = Some(d),
        None => {}
    }
    let answer = {
        let mut s = shared.lock().expect("stand-in state");
        dispatch(&mut s, &method, &headers, query.as_deref(), &body)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    match answer {
        Ok(v) | Err(v) => Json(v).into_response(),
    }
}

fn dispatch(
    s: &mut State,
    method: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Answer {
    let (args, is_json) = arguments(headers, query, body)?;
    if method == "oauth.v2.access" {
        return oauth_access(s, headers, &args);
    }
    check_token(s, token(headers, &args, is_json))?;
    match method {
        "chat.postMessage" => post_message(s, &args),
        "chat.update" => update(s, &args),
        "chat.postEphemeral" => post_ephemeral(s, &args),
        "conversations.list" => list(s, &args),
        "auth.test" => Ok(json!({
            "ok": true, "url": "https://standin.slack.com/", "team": TEAM_NAME, "user": "flowgate",
            "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": false
        })),
        _ => Err(err("unknown_method")),
    }
}

fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A channel by id, or by name for the methods that accept one.
fn find_channel<'a>(s: &'a State, key: &str, by_name: bool) -> Option<&'a ChannelInfo> {
    let name = key.trim_start_matches('#');
    s.channels
        .iter()
        .find(|c| c.id == key || (by_name && c.name == name))
}

/// A channel the bot may post to.
fn postable(s: &State, key: Option<&str>, by_name: bool) -> Result<ChannelInfo, Value> {
    let ch = key
        .and_then(|k| find_channel(s, k, by_name))
        .cloned()
        .ok_or_else(|| err("channel_not_found"))?;
    if ch.is_archived {
        return Err(err("is_archived"));
    }
    if !ch.is_member {
        return Err(err("not_in_channel"));
    }
    Ok(ch)
}

/// `blocks` (a JSON array, or a JSON string in a form), checked like Slack does for what we use.
fn blocks(args: &Map<String, Value>) -> Result<Option<Value>, Value> {
    let blocks = match args.get("blocks") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => {
            serde_json::from_str::<Value>(s).map_err(|_| err("invalid_blocks_format"))?
        }
        Some(v) => v.clone(),
    };
    let list = blocks
        .as_array()
        .ok_or_else(|| err("invalid_blocks_format"))?;
    if list.len() > 50 {
        return Err(err("invalid_blocks"));
    }
    for block in list {
        if !block["type"].is_string() {
            return Err(err("invalid_blocks"));
        }
        if block["type"] == "section"
            && block["text"]["text"]
                .as_str()
                .is_some_and(|t| t.chars().count() > 3000)
        {
            return Err(err("invalid_blocks"));
        }
        if block["type"] == "actions" {
            let mut ids = HashSet::new();
            for el in block["elements"]
                .as_array()
                .ok_or_else(|| err("invalid_blocks"))?
            {
                if el["type"] == "button" {
                    let text_ok = el["text"]["type"] == "plain_text"
                        && el["text"]["text"]
                            .as_str()
                            .is_some_and(|t| !t.is_empty() && t.chars().count() <= 75);
                    let value_ok = el["value"].as_str().is_none_or(|v| v.len() <= 2000);
                    let style_ok = el["style"]
                        .as_str()
                        .is_none_or(|v| v == "primary" || v == "danger");
                    if !text_ok || !value_ok || !style_ok {
                        return Err(err("invalid_blocks"));
                    }
                }
                if let Some(id) = el["action_id"].as_str() {
                    if id.len() > 255 || !ids.insert(id.to_string()) {
                        return Err(err("invalid_blocks"));
                    }
                }
            }
        }
    }
    Ok(Some(blocks))
}

fn text_and_blocks(args: &Map<String, Value>) -> Result<(String, Option<Value>), Value> {
    let text = str_arg(args, "text").unwrap_or_default().to_string();
    let blocks = blocks(args)?;
    if text.is_empty() && blocks.is_none() {
        return Err(err("no_text"));
    }
    if text.chars().count() > 40_000 {
        return Err(err("msg_too_long"));
    }
    Ok((text, blocks))
}

fn post_message(s: &mut State, args: &Map<String, Value>) -> Answer {
    let ch = postable(s, str_arg(args, "channel"), true)?;
    let (text, blocks) = text_and_blocks(args)?;
    let ts = s.next_ts();
    let msg = Message {
        channel: ch.id.clone(),
        ts: ts.clone(),
        text: text.clone(),
        blocks: blocks.clone(),
        user: None,
    };
    s.messages.push(msg.clone());
    s.posted.push(msg);
    Ok(json!({
        "ok": true, "channel": ch.id, "ts": ts,
        "message": { "type": "message", "subtype": "bot_message", "bot_id": BOT_ID, "text": text, "ts": ts, "blocks": blocks.unwrap_or(json!([])) }
    }))
}

fn update(s: &mut State, args: &Map<String, Value>) -> Answer {
    let channel = find_channel(s, str_arg(args, "channel").unwrap_or_default(), false)
        .cloned()
        .ok_or_else(|| err("channel_not_found"))?;
    let ts = str_arg(args, "ts")
        .ok_or_else(|| err("message_not_found"))?
        .to_string();
    let (text, blocks) = text_and_blocks(args)?;
    let msg = s
        .messages
        .iter_mut()
        .find(|m| m.channel == channel.id && m.ts == ts)
        .ok_or_else(|| err("message_not_found"))?;
    msg.text = text.clone();
    if blocks.is_some() {
        msg.blocks = blocks;
    }
    let updated = msg.clone();
    s.updates.push(updated.clone());
    Ok(
        json!({ "ok": true, "channel": channel.id, "ts": ts, "text": text, "message": { "text": text, "user": BOT_USER_ID, "blocks": updated.blocks } }),
    )
}

fn post_ephemeral(s: &mut State, args: &Map<String, Value>) -> Answer {
    let ch = postable(s, str_arg(args, "channel"), true)?;
    let user = str_arg(args, "user")
        .ok_or_else(|| err("user_not_in_channel"))?
        .to_string();
    let (text, blocks) = text_and_blocks(args)?;
    let ts = s.next_ts();
    s.ephemerals.push(Message {
        channel: ch.id,
        ts: ts.clone(),
        text,
        blocks,
        user: Some(user),
    });
    Ok(json!({ "ok": true, "message_ts": ts }))
}

fn list(s: &State, args: &Map<String, Value>) -> Answer {
    let types: Vec<&str> = str_arg(args, "types")
        .unwrap_or("public_channel")
        .split(',')
        .map(str::trim)
        .collect();
    let exclude_archived =
        str_arg(args, "exclude_archived").is_some_and(|v| v == "true" || v == "1");
    let limit = match str_arg(args, "limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| err("invalid_limit"))?
            .clamp(1, 1000),
        None => 100,
    };
    let limit = s.page_size_cap.map_or(limit, |cap| limit.min(cap));
    let start = match str_arg(args, "cursor") {
        Some(c) => c
            .strip_prefix("dGVhbTpD")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| err("invalid_cursor"))?,
        None => 0,
    };
    let matching: Vec<&ChannelInfo> = s
        .channels
        .iter()
        .filter(|c| {
            types.contains(&if c.is_private {
                "private_channel"
            } else {
                "public_channel"
            })
        })
        .filter(|c| !(exclude_archived && c.is_archived))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| {
            json!({
                "id": c.id, "name": c.name, "name_normalized": c.name, "is_channel": !c.is_private, "is_group": c.is_private,
                "is_im": false, "is_mpim": false, "is_private": c.is_private, "is_archived": c.is_archived, "is_general": c.name == "general",
                "is_member": c.is_member, "is_shared": false, "is_ext_shared": false, "is_org_shared": false, "num_members": 3,
                "created": 1_449_252_889, "creator": "U012A3CDE",
                "topic": { "value": "", "creator": "", "last_set": 0 }, "purpose": { "value": "", "creator": "", "last_set": 0 }
            })
        })
        .collect();
    let next = start + page.len();
    let next_cursor = if next < matching.len() {
        format!("dGVhbTpD{next}")
    } else {
        String::new()
    };
    Ok(json!({ "ok": true, "channels": page, "response_metadata": { "next_cursor": next_cursor } }))
}

/// Client credentials from HTTP Basic auth, else from the form.
fn client_credentials(headers: &HeaderMap, args: &Map<String, Value>) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(id, secret)| (id.to_string(), secret.to_string()))
        });
    basic.or_else(|| {
        Some((
            str_arg(args, "client_id")?.to_string(),
            str_arg(args, "client_secret")?.to_string(),
        ))
    })
}

fn oauth_access(s: &mut State, headers: &HeaderMap, args: &Map<String, Value>) -> Answer {
    let (id, secret) = client_credentials(headers, args).ok_or_else(|| err("invalid_client_id"))?;
    if id != CLIENT_ID {
        return Err(err("invalid_client_id"));
    }
    if secret != CLIENT_SECRET {
        return Err(err("bad_client_secret"));
    }
    let code = str_arg(args, "code").ok_or_else(|| err("invalid_code"))?;
    let entry = s
        .oauth_codes
        .get_mut(code)
        .ok_or_else(|| err("invalid_code"))?;
    if entry.used {
        return Err(err("code_already_used"));
    }
    if entry.redirect_uri.as_deref() != str_arg(args, "redirect_uri")
        && entry.redirect_uri.is_some()
    {
        return Err(err("bad_redirect_uri"));
    }
    entry.used = true;
    let token = format!("xoxb-{}", uuid::Uuid::new_v4().simple());
    s.tokens.insert(token.clone(), TokenState::Valid);
    Ok(json!({
        "ok": true, "access_token": token, "token_type": "bot", "scope": "chat:write,channels:read,groups:read",
        "bot_user_id": BOT_USER_ID, "app_id": "A0STANDIN", "team": { "id": TEAM_ID, "name": TEAM_NAME },
        "enterprise": null, "is_enterprise_install": false, "authed_user": { "id": "U0INSTALLER" }
    }))
}

/// `GET /oauth/v2/authorize`: Slack's consent page, as if the user clicked "Allow" at once: a
/// fresh single-use code (bound to `redirect_uri`) is sent back to `redirect_uri` with `state`.
pub(crate) async fn authorize(
    AxState(shared): AxState<Shared>,
    RawQuery(query): RawQuery,
) -> Response {
    let args: Map<String, Value> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
    if str_arg(&args, "client_id") != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "invalid_client_id").into_response();
    }
    let Some((raw, redirect)) = str_arg(&args, "redirect_uri")
        .and_then(|r| Some((r.to_string(), url::Url::parse(r).ok()?)))
    else {
        return (StatusCode::BAD_REQUEST, "bad_redirect_uri").into_response();
    };
    let code = format!("standin-code-{}", uuid::Uuid::new_v4().simple());
    shared.lock().expect("stand-in state").oauth_codes.insert(
        code.clone(),
        super::OAuthCode {
            redirect_uri: Some(raw),
            used: false,
        },
    );
    let mut back = redirect;
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = str_arg(&args, "state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

/// A `response_url`: records the JSON body, answers like Slack's hooks do.
pub(crate) async fn response_url(
    AxState(shared): AxState<Shared>,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    shared
        .lock()
        .expect("stand-in state")
        .responses
        .push((uri.to_string(), value));
    (StatusCode::OK, "ok").into_response()
}
