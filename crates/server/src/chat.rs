//! Chat prompts: the tokenizer's Jinja `chat_template` rendered with minijinja (Python string
//! methods enabled, `raise_exception` and `strftime_now` provided, as transformers does), or a
//! documented fallback for models without one.

use crate::error::InferError;
use minijinja::{Environment, Error, ErrorKind};
use serde::{Deserialize, Serialize};

/// One chat message (content as a string or OpenAI content parts).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// Text, or a list of `{"type": "text", "text": ...}` parts.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub content: Option<serde_json::Value>,
    /// Optional author name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    /// The content as plain text (text parts joined; images refused).
    pub fn text(&self) -> Result<String, InferError> {
        match &self.content {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(serde_json::Value::Array(parts)) => {
                let mut out = String::new();
                for p in parts {
                    match p.get("type").and_then(|t| t.as_str()) {
                        Some("text") => out.push_str(p.get("text").and_then(|t| t.as_str()).unwrap_or("")),
                        Some(other) => {
                            return Err(InferError::Validation(format!("content part type {other:?} is not supported (text only)")))
                        }
                        None => return Err(InferError::Validation("content part without `type`".into())),
                    }
                }
                Ok(out)
            }
            Some(other) => Err(InferError::Validation(format!("`content` must be a string or a list of parts, got {other}"))),
        }
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Option<Environment<'static>>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `template` (when present); a broken template is reported per request.
    pub fn new(template: Option<String>, bos_token: Option<String>, eos_token: Option<String>) -> Self {
        let env = template.map(|t| {
            let mut env = Environment::new();
            minijinja_contrib::add_to_environment(&mut env);
            env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
            env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, msg))
            });
            env.add_function("strftime_now", |fmt: String| -> String {
                let _ = fmt;
                String::new()
            });
            let _ = env.add_template_owned("chat", t);
            env
        });
        Self { env, bos_token: bos_token.unwrap_or_default(), eos_token: eos_token.unwrap_or_default() }
    }

    /// Whether the model has its own template.
    pub fn has_template(&self) -> bool {
        self.env.is_some()
    }

    /// Renders the prompt for `messages`, ending with the assistant turn's opening.
    pub fn apply(&self, messages: &[Message]) -> Result<String, InferError> {
        let plain: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| Ok(serde_json::json!({"role": m.role, "content": m.text()?})))
            .collect::<Result<_, InferError>>()?;
        match &self.env {
            Some(env) => {
                let tmpl = env.get_template("chat").map_err(|e| InferError::Template(e.to_string()))?;
                tmpl.render(minijinja::context! {
                    messages => plain,
                    add_generation_prompt => true,
                    bos_token => self.bos_token,
                    eos_token => self.eos_token,
                })
                .map_err(|e| InferError::Template(e.to_string()))
            }
            None => Ok(fallback(messages)?),
        }
    }
}

/// Without a template: a lone user message is sent verbatim (so the Text-to-SQL prompt reaches
/// the adapter exactly as trained); otherwise `role: content` blocks and `assistant:`.
fn fallback(messages: &[Message]) -> Result<String, InferError> {
    if let [only] = messages {
        if only.role == "user" {
            return only.text();
        }
    }
    let mut out = String::new();
    for m in messages {
        out.push_str(&format!("{}: {}\n\n", m.role, m.text()?));
    }
    out.push_str("assistant:");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: Some(content.into()), name: None }
    }

    #[test]
    fn renders_chatml_with_python_methods() {
        let t = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content.strip() }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        let c = ChatTemplate::new(Some(t.into()), None, None);
        let out = c.apply(&[msg("user", "  hi ")]).unwrap();
        assert_eq!(out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn raise_exception_is_a_template_error() {
        let c = ChatTemplate::new(Some("{{ raise_exception('no system role') }}".into()), None, None);
        let err = c.apply(&[msg("system", "x")]).unwrap_err();
        assert_eq!(err.error_type(), "template_error");
        assert!(err.to_string().contains("no system role"));
    }

    #[test]
    fn fallback_sends_a_lone_user_message_verbatim() {
        let c = ChatTemplate::new(None, None, None);
        assert_eq!(c.apply(&[msg("user", "### Schema:\nx")]).unwrap(), "### Schema:\nx");
        assert_eq!(c.apply(&[msg("system", "s"), msg("user", "u")]).unwrap(), "system: s\n\nuser: u\n\nassistant:");
    }
}
