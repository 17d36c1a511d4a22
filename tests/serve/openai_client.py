#!/usr/bin/env python3
"""An independent client of ShardLM's OpenAI-compatible HTTP API: the official `openai` package, no
ShardLM code. Prints, as JSON, the greedy answer of one prompt through /v1/completions and one
conversation through /v1/chat/completions, each streamed and not, with what the server said about
them (finish reasons, usage, the models listed)."""
import argparse
import json
import sys

import openai


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)  # http://127.0.0.1:PORT/v1
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--chat", default="", help="a user message; empty: no chat requests")
    parser.add_argument("--max-tokens", type=int, required=True)
    parser.add_argument("--ca", default=None, help="the server's certificate, for https")
    args = parser.parse_args()

    # The package's own HTTP client, told to trust the server's certificate.
    http_client = openai.DefaultHttpxClient(verify=args.ca) if args.ca else None
    client = openai.OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=120,
                           http_client=http_client)
    models = [model.id for model in client.models.list()]
    model = models[0]
    result = {"models": models}

    whole = client.completions.create(model=model, prompt=args.prompt, max_tokens=args.max_tokens, temperature=0)
    result["completion"] = whole.choices[0].text
    result["completion_finish"] = whole.choices[0].finish_reason
    result["completion_usage"] = [whole.usage.prompt_tokens, whole.usage.completion_tokens, whole.usage.total_tokens]
    streamed, finish = "", None
    for chunk in client.completions.create(model=model, prompt=args.prompt, max_tokens=args.max_tokens,
                                           temperature=0, stream=True):
        streamed += chunk.choices[0].text
        finish = chunk.choices[0].finish_reason or finish
    result["completion_streamed"] = streamed
    result["completion_streamed_finish"] = finish

    if args.chat:
        messages = [{"role": "user", "content": args.chat}]
        answer = client.chat.completions.create(model=model, messages=messages, max_tokens=args.max_tokens,
                                                temperature=0)
        result["chat"] = answer.choices[0].message.content
        result["chat_role"] = answer.choices[0].message.role
        streamed, usage = "", None
        for chunk in client.chat.completions.create(model=model, messages=messages, max_tokens=args.max_tokens,
                                                    temperature=0, stream=True,
                                                    stream_options={"include_usage": True}):
            if chunk.choices and chunk.choices[0].delta.content:
                streamed += chunk.choices[0].delta.content
            if chunk.usage:
                usage = [chunk.usage.prompt_tokens, chunk.usage.completion_tokens]
        result["chat_streamed"] = streamed
        result["chat_streamed_usage"] = usage

        # Structured output: the reply must be JSON the schema accepts.
        schema = {"type": "object", "properties": {"answer": {"type": "integer"}, "unit": {"type": "string", "maxLength": 12}},
                  "required": ["answer"]}
        structured = client.chat.completions.create(
            model=model, messages=messages, max_tokens=64, temperature=0,
            response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}})
        result["structured"] = structured.choices[0].message.content
        result["structured_finish"] = structured.choices[0].finish_reason

    try:  # a bad request: the client raises with the server's status and error body
        client.completions.create(model=model, prompt=args.prompt, max_tokens=args.max_tokens, top_p=7)
        result["bad_request"] = None
    except openai.BadRequestError as error:
        result["bad_request"] = {"status": error.status_code, "param": error.body.get("param")}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
