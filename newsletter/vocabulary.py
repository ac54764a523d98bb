"""A curated vocabulary of the field: each entry lists forms that mean the same thing.

A topic that names any form matches every form, as whole words only, so "RAG"
finds "retrieval-augmented generation" but never "leveraging". Bump VERSION
when entries change, since it changes who gets which paper.
"""

VERSION = "2026.11.1"

ENTRIES: tuple[tuple[str, ...], ...] = (
    ("LLM", "large language model"),
    ("LM", "language model"),
    ("SLM", "small language model"),
    ("VLM", "vision language model", "visual language model"),
    ("MLLM", "multimodal large language model", "multimodal LLM"),
    ("LVLM", "large vision language model"),
    ("VLA", "vision language action model", "vision language action"),
    ("MoE", "mixture of experts", "sparse experts"),
    ("RAG", "retrieval augmented generation", "retrieval augmented"),
    ("RL", "reinforcement learning"),
    ("RLHF", "reinforcement learning from human feedback"),
    ("RLVR", "reinforcement learning with verifiable rewards"),
    ("DPO", "direct preference optimization"),
    ("PPO", "proximal policy optimization"),
    ("GRPO", "group relative policy optimization"),
    ("SFT", "supervised fine tuning"),
    ("PEFT", "parameter efficient fine tuning"),
    ("LoRA", "low rank adaptation"),
    ("CoT", "chain of thought"),
    ("KV cache", "key value cache"),
    ("NLP", "natural language processing"),
    ("NER", "named entity recognition"),
    ("QA", "question answering"),
    ("VQA", "visual question answering"),
    ("ASR", "automatic speech recognition", "speech recognition"),
    ("TTS", "text to speech", "speech synthesis"),
    ("OCR", "optical character recognition"),
    ("GNN", "graph neural network"),
    ("CNN", "convolutional neural network"),
    ("RNN", "recurrent neural network"),
    ("ViT", "vision transformer"),
    ("GAN", "generative adversarial network"),
    ("VAE", "variational autoencoder"),
    ("NeRF", "neural radiance field"),
    ("3DGS", "3D gaussian splatting", "gaussian splatting"),
    ("AGI", "artificial general intelligence"),
    ("MCTS", "monte carlo tree search"),
    ("NAS", "neural architecture search"),
    ("recommender system", "recommendation system", "recommender", "recommendation"),
    ("diffusion model", "diffusion"),
    ("text to image", "T2I"),
    ("text to video", "T2V"),
    ("image to video", "I2V"),
    ("code generation", "code LLM", "program synthesis"),
    ("model compression", "pruning", "distillation", "quantization", "low bit"),
    ("hallucination", "hallucinate"),
    ("benchmark", "evaluation suite"),
)
