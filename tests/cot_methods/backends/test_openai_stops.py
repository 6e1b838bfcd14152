"""More stop strings than a server takes (DEER's 10 official probe stops; the API's limit is 4)
are applied to what the server returns, as the server would have applied them."""

from types import SimpleNamespace

from cotbench.cot_methods.backends.openai import MAX_SERVER_STOPS, OpenAICompletionsBackend, apply_stops
from cotbench.cot_methods.loop.segments import Segment
from cotbench.cot_methods.methods.deer import DEER_STOP_TEXTS


def test_deers_probe_stops_are_kept_out_of_the_request_and_applied_to_the_answer():
    assert len(DEER_STOP_TEXTS) > MAX_SERVER_STOPS
    backend = OpenAICompletionsBackend.__new__(OpenAICompletionsBackend)
    backend.model, backend.send_ids, backend.url = "m", False, "http://x/v1"
    request = SimpleNamespace(prompt="p", prompt_ids=None, max_tokens=20, temperature=0.0, top_p=1.0, seed=None, top_k=0, min_p=0.0,
                              presence_penalty=0.0, repetition_penalty=1.0, stop=DEER_STOP_TEXTS, top_logprobs=1, banned_ids=())
    assert "stop" not in backend.payload(request)
    tokens = ["{\\", "frac", "{", "1", "}{", "2", "}}", "\n", "That"]
    data = {"choices": [{"text": "".join(tokens), "finish_reason": "length",
                         "logprobs": {"tokens": tokens, "top_logprobs": [{t: -0.1} for t in tokens]}}],
            "usage": {"completion_tokens": len(tokens)}}
    segment = backend.parse(data, request)
    # \frac{1}{2} is not cut at its inner "}{"; the box ends at "}}" (the official list's "}}")
    assert segment.text == "{\\frac{1}{2" and segment.matched_stop == "}}" and segment.finish_reason == "stop"
    assert segment.tokens == 7 and len(segment.top_logprobs) == 7 and segment.token_texts == tokens[:7]


def test_the_earliest_completed_stop_wins_and_no_stop_leaves_the_segment_alone():
    tokens = ["4", "2", "}", "\n", "\n"]
    segment = Segment("42}\n\n", 5, "length", None, [[-0.1]] * 5, tokens, [1, 2, 3, 4, 5])
    cut = apply_stops(segment, ("}\n\n", "}\n"))
    assert (cut.text, cut.matched_stop, cut.tokens, cut.token_ids) == ("42", "}\n", 4, [1, 2, 3, 4])
    assert apply_stops(segment, ("}.",)) is segment
